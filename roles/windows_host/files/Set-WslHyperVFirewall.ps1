# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run by ansible.windows.win_powershell (roles/windows_host/tasks/hyperv_firewall.yml)
# for networkingMode=mirrored: WSL filters inbound traffic to the VM with the Hyper-V
# firewall, whose rules are not the host's (microsoft/WSL#10597). One inbound allow
# rule per entry of $Rules (hashtables with name, protocol, port and optionally
# remote_addresses and state), for WSL's VM creator id; rules of $Group that are
# no longer wanted are removed. $Ansible.Changed is true only when something was
# (or in check mode would be) created, replaced or removed.
# Result: @{ actions = @(<one sentence per change>) }.
[CmdletBinding(SupportsShouldProcess)]
param (
    [Parameter(Mandatory)] [object[]] $Rules,
    [Parameter(Mandatory)] [string] $Group,
    [Parameter(Mandatory)] [string] $VMCreatorId,
    [string] $RemoteAddresses = 'Any'
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

if (-not (Get-Command -Name New-NetFirewallHyperVRule -ErrorAction SilentlyContinue)) {
    throw ("New-NetFirewallHyperVRule does not exist on $env:COMPUTERNAME: the Hyper-V firewall needs Windows 11 " +
        "22H2 or newer. Mirrored networking filters inbound traffic with it; use bridged networking instead.")
}

$actions = [System.Collections.Generic.List[string]]::new()
$wanted = @{}
foreach ($rule in $Rules) {
    if ($rule.state -eq 'absent') { continue }
    $display = "$Group $($rule.name)"
    $id = $display -replace '[^A-Za-z0-9._-]', '-'
    $wanted[$id] = $true
    $protocol = ([string]$rule.protocol).ToUpperInvariant()
    $ports = @(([string]$rule.port) -split ',')
    $remote = if ($rule.remote_addresses) { @($rule.remote_addresses) } else { @($RemoteAddresses -split ',') }
    $existing = Get-NetFirewallHyperVRule -Name $id -ErrorAction SilentlyContinue
    if ($existing) {
        $same = ([string]$existing.Protocol -eq $protocol) -and
            ((@($existing.LocalPorts) -join ',') -eq ($ports -join ',')) -and
            ((@($existing.RemoteAddresses) -join ',') -eq ($remote -join ',')) -and
            ([string]$existing.VMCreatorId -eq $VMCreatorId) -and ([string]$existing.Action -eq 'Allow')
        if ($same) { continue }
        $actions.Add("replace Hyper-V firewall rule '$display'")
        if (-not $Ansible.CheckMode) { Remove-NetFirewallHyperVRule -Name $id }
    }
    else {
        $actions.Add("create Hyper-V firewall rule '$display'")
    }
    if (-not $Ansible.CheckMode) {
        New-NetFirewallHyperVRule -Name $id -DisplayName $display -Direction Inbound -VMCreatorId $VMCreatorId `
            -Protocol $protocol -LocalPorts $ports -RemoteAddresses $remote -Action Allow | Out-Null
    }
}
foreach ($old in @(Get-NetFirewallHyperVRule -ErrorAction SilentlyContinue | Where-Object {
            $_.DisplayName -like "$Group *" -and -not $wanted.ContainsKey($_.Name) })) {
    $actions.Add("remove Hyper-V firewall rule '$($old.DisplayName)'")
    if (-not $Ansible.CheckMode) { Remove-NetFirewallHyperVRule -Name $old.Name }
}

$Ansible.Changed = $actions.Count -gt 0
$Ansible.Result = @{ actions = @($actions) }
