# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run by ansible.windows.win_powershell (roles/windows_host/handlers/main.yml).
# Starts the keep-alive scheduled task unless it is already running. The task
# runs with the user's interactive token, so it only starts while that user is
# logged on; otherwise it starts at the next logon.
[CmdletBinding(SupportsShouldProcess)]
param (
    [Parameter(Mandatory)] [string] $TaskName
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
$task = Get-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue
if (-not $task) {
    # check mode: the task was only pretended to be created
    return
}
$Ansible.Result = @{ state_before = [string]$task.State }
if ($task.State -eq 'Running') {
    return
}
if (-not $Ansible.CheckMode) {
    Start-ScheduledTask -TaskName $TaskName
}
$Ansible.Changed = $true
