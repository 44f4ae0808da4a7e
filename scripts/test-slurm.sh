#!/usr/bin/env bash
# Runs the Slurm-tagged tests (go test -tags slurm) against a real, private
# one-node Slurm on 127.0.0.1: installs Debian's slurmctld, slurmd,
# slurm-client and munge when missing (root and apt-get needed), writes a
# slurm.conf with state, spool, logs and the munge socket under a temporary
# directory, starts munged, slurmctld and slurmd, waits for the node to be
# idle, runs the tests, and stops the daemons it started by pid — also when
# the tests fail or the script is interrupted.
#
# Environment: SLURM_TEST_RUN (a go test -run pattern, default ^TestSlurm), SLURM_TEST_TIMEOUT
# (go test -timeout, default 20m), SLURM_TEST_KEEP=1 keeps the temporary
# directory (logs) after the run, SLURM_TEST_CMD runs that bash command
# on the cluster instead of the tests (benchmarks, experiments).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for p in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
	command -v "${p%%:*}" >/dev/null 2>&1 || need+=("${p#*:}")
done
if ((${#need[@]})); then
	echo "test-slurm: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "${need[@]}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; }
fi

T=$(mktemp -d /tmp/slurm-test.XXXXXX)
chmod 700 "$T"
pids=()
cleanup() {
	status=$?
	# Cancel what is still queued or running and let slurmd reap it, then
	# stop the daemons; a job step that outlived slurmd (reparented to
	# init) is found by this cluster's SLURM_CONF in its environment.
	if [[ -n ${SLURM_CONF:-} ]] && ((${#pids[@]} == 3)) && [[ ! -f $T/ctld.hold ]]; then
		scancel --user "$(id -un)" 2>/dev/null || true
		for _ in $(seq 50); do
			[[ -z $(squeue -h 2>/dev/null) ]] && break
			sleep 0.2
		done
	fi
	touch "$T"/stop
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[i]}" 2>/dev/null || true
		# The controller's loop (pids[1]) first, then the controller.
		if ((i == 1)) && [[ -f $T/slurmctld.pid ]]; then
			ctld=$(cat "$T"/slurmctld.pid)
			kill "$ctld" 2>/dev/null || true
			pids+=("$ctld")
		fi
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
	done
	for p in $(pgrep -x slurmstepd); do
		if grep -qzx "SLURM_CONF=$T/slurm.conf" "/proc/$p/environ" 2>/dev/null; then
			pkill -KILL -P "$p" 2>/dev/null || true
			kill -KILL "$p" 2>/dev/null || true
		fi
	done
	if [[ $status -ne 0 ]]; then
		for f in "$T"/slurmctld.log "$T"/slurmd.log; do
			[[ -f $f ]] && { echo "--- tail of $f"; tail -n 20 "$f"; }
		done
	fi
	[[ ${SLURM_TEST_KEEP:-} == 1 ]] && echo "test-slurm: kept $T" || rm -rf "$T"
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

host=$(hostname -s)
mkdir -p "$T"/state "$T"/spool "$T"/munge
dd if=/dev/urandom of="$T"/munge/munge.key bs=1024 count=1 status=none
chmod 400 "$T"/munge/munge.key
cat >"$T"/slurm.conf <<CONF
ClusterName=hetalign-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SlurmctldPort=${SLURM_TEST_PORT:-16817}
SlurmdPort=$(( ${SLURM_TEST_PORT:-16817} + 1 ))
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
MinJobAge=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$T/slurm.conf

munged -F --force --socket="$T"/munge/munge.socket --key-file="$T"/munge/munge.key \
	--pid-file="$T"/munge/munged.pid --log-file="$T"/munge/munged.log --seed-file="$T"/munge/munge.seed \
	>"$T"/munge/munged.out 2>&1 &
pids+=($!)
for _ in $(seq 50); do [[ -S $T/munge/munge.socket ]] && break; sleep 0.1; done
# slurmctld runs under a loop that starts it again when it ends, unless
# $T/ctld.hold exists (then it waits for the file to go): the controller
# restart test (TestSlurmControllerRestart) stops it by the pid in
# $T/slurmctld.pid, holds it down for 60 s and lets it come back.
(
	while [[ ! -f $T/stop ]]; do
		if [[ -f $T/ctld.hold ]]; then sleep 0.2; continue; fi
		slurmctld -D -f "$SLURM_CONF" >>"$T"/slurmctld.out 2>&1 || true
	done
) &
pids+=($!)
export HETALIGN_SLURMCTLD_DIR=$T
slurmd -D -f "$SLURM_CONF" >"$T"/slurmd.out 2>&1 &
pids+=($!)

start=$SECONDS
until sinfo -h -o '%t' 2>/dev/null | grep -qx 'idle'; do
	if ((SECONDS - start > 60)); then
		echo "test-slurm: the node did not become idle in 60 s"; sinfo || true
		exit 1
	fi
	sleep 0.5
done
echo "test-slurm: node $host idle after $((SECONDS - start)) s"

if [[ -n ${SLURM_TEST_CMD:-} ]]; then
	bash -c "$SLURM_TEST_CMD"
	exit
fi
go test -tags slurm -count=1 -timeout "${SLURM_TEST_TIMEOUT:-20m}" -run "${SLURM_TEST_RUN:-^TestSlurm}" ./...
