# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run by ansible.windows.win_powershell (roles/windows_host/tasks/vswitch.yml).
# Makes sure an external Hyper-V switch exists and is bound to the named NIC.
# $Ansible.Changed is true only when something was (or in check mode would be)
# created or changed. SupportsShouldProcess lets win_powershell run it in check
# mode; every change is guarded by $Ansible.CheckMode.
[CmdletBinding(SupportsShouldProcess)]
param (
    [Parameter(Mandatory)] [string] $Name,
    [Parameter(Mandatory)] [string] $AdapterName,
    [bool] $AllowManagementOS = $true
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

if (-not (Get-Command -Name Get-VMSwitch -ErrorAction SilentlyContinue)) {
    throw ("The Hyper-V PowerShell module is missing on $env:COMPUTERNAME. Enable the Windows feature " +
        "Microsoft-Hyper-V-All (the role does this for bridged networking; a reboot may be pending). " +
        "Windows Home editions have no Hyper-V and cannot use WSL bridged networking.")
}

function Get-AdapterList {
    $adapters = @(Get-NetAdapter | Sort-Object -Property Name | ForEach-Object {
            "'$($_.Name)' ($($_.InterfaceDescription), $($_.Status))"
        })
    if ($adapters.Count -eq 0) { return '(none)' }
    return ($adapters -join '; ')
}

$adapter = Get-NetAdapter -Name $AdapterName -ErrorAction SilentlyContinue
if (-not $adapter) {
    throw ("Network adapter '$AdapterName' does not exist on $env:COMPUTERNAME. Adapters that do exist: " +
        (Get-AdapterList) + ". Set windows_host_vswitch_adapter to one of these names.")
}

$switch = Get-VMSwitch -Name $Name -ErrorAction SilentlyContinue | Select-Object -First 1
$actions = [System.Collections.Generic.List[string]]::new()
if (-not $switch) {
    $actions.Add("create external switch '$Name' on '$AdapterName'")
    if (-not $Ansible.CheckMode) {
        New-VMSwitch -Name $Name -NetAdapterName $AdapterName -AllowManagementOS $AllowManagementOS | Out-Null
    }
}
else {
    if ($switch.SwitchType -ne 'External') {
        throw ("A Hyper-V switch named '$Name' exists but is $($switch.SwitchType), not External. WSL bridged " +
            "networking needs an external switch: remove or rename that switch, or set windows_host_vswitch_name.")
    }
    if ($switch.NetAdapterInterfaceDescription -ne $adapter.InterfaceDescription) {
        $actions.Add("bind '$Name' to '$AdapterName' (was '$($switch.NetAdapterInterfaceDescription)')")
        if (-not $Ansible.CheckMode) {
            Set-VMSwitch -Name $Name -NetAdapterName $AdapterName -AllowManagementOS $AllowManagementOS
        }
    }
    elseif ([bool]$switch.AllowManagementOS -ne $AllowManagementOS) {
        $actions.Add("set AllowManagementOS of '$Name' to $AllowManagementOS")
        if (-not $Ansible.CheckMode) {
            Set-VMSwitch -Name $Name -AllowManagementOS $AllowManagementOS
        }
    }
}

$Ansible.Changed = $actions.Count -gt 0
$Ansible.Result = @{
    name = $Name
    adapter = $AdapterName
    adapter_description = $adapter.InterfaceDescription
    actions = @($actions)
}
