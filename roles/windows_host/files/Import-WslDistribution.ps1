# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run by ansible.windows.win_powershell (roles/windows_host/tasks/distro.yml) only
# when `wsl --list --verbose` did not list the distribution. Imports it as WSL 2.
[CmdletBinding(SupportsShouldProcess)]
param (
    [Parameter(Mandatory)] [string] $Name,
    [Parameter(Mandatory)] [string] $InstallDir,
    [Parameter(Mandatory)] [string] $RootFs
)
$ErrorActionPreference = 'Stop'
$InstallDir = [Environment]::ExpandEnvironmentVariables($InstallDir)
$RootFs = [Environment]::ExpandEnvironmentVariables($RootFs)
$Ansible.Result = @{ name = $Name; install_dir = $InstallDir; rootfs = $RootFs }

if (-not (Test-Path -LiteralPath $RootFs -PathType Leaf)) {
    if ($Ansible.CheckMode) {
        # it may be downloaded by a task that check mode only pretended to run
        $Ansible.Changed = $true
        return
    }
    throw ("The root file system tarball '$RootFs' does not exist on $env:COMPUTERNAME. Copy it there, " +
        "or set windows_host_wsl_rootfs_url (and windows_host_wsl_rootfs_checksum) to download it.")
}
if ((Test-Path -LiteralPath $InstallDir) -and
    (Get-ChildItem -LiteralPath $InstallDir -Filter '*.vhdx' -ErrorAction SilentlyContinue)) {
    throw ("'$InstallDir' already holds a virtual disk, but no distribution '$Name' is registered for " +
        "$env:USERNAME. Register it with 'wsl --import-in-place $Name <vhdx>' or choose another " +
        "windows_host_wsl_install_dir; the role does not overwrite disks.")
}
$Ansible.Changed = $true
if ($Ansible.CheckMode) { return }

New-Item -ItemType Directory -Path $InstallDir -Force | Out-Null
$env:WSL_UTF8 = '1'
$output = & wsl.exe --import $Name $InstallDir $RootFs --version 2 2>&1 | Out-String
if ($LASTEXITCODE -ne 0) {
    throw "wsl --import $Name failed (exit code $LASTEXITCODE): $($output.Trim())"
}
$Ansible.Result.output = $output.Trim()
