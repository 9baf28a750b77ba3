#!/usr/bin/env pwsh
# ActorBroker build script. On a fresh clone:  dotnet tool restore && dotnet pwsh ./build.ps1 <target>
#   build   compile the solution (Release)
#   test    build, install the interop clients (npm ci), run every test suite (unit, conformance, actor, multi-node,
#           process, interop). Needs PostgreSQL 15 server binaries, ZooKeeper 3.8 (Debian package `zookeeper`), Java and
#           Node.js on the machine; .ci/run installs them.
#   run     run one node on the embedded default profile (hocon/standalone.conf); extra args go to the node
#   bench   STOMP benchmark against a fresh standalone node (see docs/benchmarks.md)
#   soak    consecutive kill -9 failovers under load per master/slave profile, counting lost and duplicated messages
#           (outside CI; Release build; args: profiles, env FAILOVERS/INTERVAL; see docs/failover.md)
param(
    [Parameter(Position = 0)][ValidateSet('build', 'test', 'run', 'bench', 'soak')][string]$Target = 'build',
    [string]$Configuration = 'Release',
    [Parameter(ValueFromRemainingArguments = $true)][string[]]$Rest = @()
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot

function Invoke-Checked([string]$what, [scriptblock]$block) {
    Write-Host "==> $what" -ForegroundColor Cyan
    & $block
    if ($LASTEXITCODE -ne 0) { throw "$what failed with exit code $LASTEXITCODE" }
}

function Invoke-Build {
    Invoke-Checked 'dotnet build' { dotnet build "$root/ActorBroker.sln" -c $Configuration -nologo -v minimal }
}

function Invoke-Test {
    Invoke-Build
    Invoke-Checked 'npm ci (interop clients)' { npm ci --prefix "$root/tests/interop" --no-audit --no-fund }
    $results = Join-Path $root 'artifacts/test-results'
    $passed = 0; $failed = 0; $failures = @(); $failedTests = @()
    # One test project at a time: the suites start real servers and node processes, and the machine may have 2 cores.
    foreach ($project in 'ActorBroker.Tests', 'ActorBroker.Conformance', 'ActorBroker.MultiNode') {
        Write-Host "==> dotnet test $project" -ForegroundColor Cyan
        dotnet test "$root/tests/$project" -c $Configuration --no-build -nologo `
            --logger 'console;verbosity=normal' --results-directory $results | Tee-Object -Variable output
        $text = $output -join "`n"
        # A test host that crashed or was killed may leave no summary and, through the pipe, no failing exit code.
        if ($LASTEXITCODE -ne 0 -or $text -notmatch '(?m)^\s*Total tests:\s*\d+') { $failures += $project }
        # Keep each failed test's name and the start of its message, to repeat them after the (long) log ends.
        $failedTests += $output | Select-String -Pattern '^\s+Failed \S' -Context 0, 8 | ForEach-Object {
            (@($_.Line) + $_.Context.PostContext) -join "`n"
        }
        if ($text -match '(?m)^\s*Passed:\s*(\d+)') { $passed += [int]$Matches[1] }
        if ($text -match '(?m)^\s*Failed:\s*(\d+)') { $failed += [int]$Matches[1] }
    }
    Write-Host '==> interop tests (node --test)' -ForegroundColor Cyan
    $env:ACTORBROKER_NODE_DLL = Join-Path $root "src/ActorBroker.Node/bin/$Configuration/net10.0/ActorBroker.Node.dll"
    node --test "$root/tests/interop/" | Tee-Object -Variable output
    if ($LASTEXITCODE -ne 0) { $failures += 'interop' }
    $text = $output -join "`n"
    if ($text -match '(?m)^# pass (\d+)') { $passed += [int]$Matches[1] }
    if ($text -match '(?m)^# fail (\d+)') { $failed += [int]$Matches[1] }
    if ($failedTests.Count -gt 0) {
        Write-Host '==> failed tests' -ForegroundColor Red
        $failedTests | ForEach-Object { Write-Host $_ }
    }
    Write-Host "tests: $passed passed, $failed failed"
    if ($failures.Count -gt 0 -or $passed -eq 0) { throw "test suites failed: $($failures -join ', ')" }
}

switch ($Target) {
    'build' { Invoke-Build }
    'test' { Invoke-Test }
    'run' {
        Invoke-Checked 'dotnet run' { dotnet run --project "$root/src/ActorBroker.Node" -c $Configuration -- @Rest }
    }
    'bench' {
        Invoke-Build
        Invoke-Checked 'STOMP benchmark' { bash "$root/tests/bench/stomp-bench.sh" @Rest }
    }
    'soak' {
        Invoke-Build
        $env:CONFIGURATION = $Configuration
        Invoke-Checked 'failover soak' { bash "$root/tests/bench/soak.sh" @Rest }
    }
}
