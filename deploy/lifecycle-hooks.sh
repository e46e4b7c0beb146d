#!/bin/bash
# swarm-reflex: puts the lifecycle hooks node-lifecycle completes on the given Auto Scaling
# groups (the workers' and the managers'), with `aws autoscaling put-lifecycle-hook`. The same
# hooks as deploy/lifecycle-hooks.yml, which explains the values; use one or the other.
#
#   deploy/lifecycle-hooks.sh --cluster prod prod-swarm-workers prod-swarm-managers
#
# Safe to run again: put-lifecycle-hook creates a hook or updates the one of the same name.
# Every group is checked first (it exists and carries swarm-reflex:cluster=<cluster>, without
# which node-lifecycle may not complete its lifecycle actions); if one fails the check, no
# hook is put on any.
#
# Settings (environment): AWS_REGION (passed as --region when set), AWS_CLI (default: aws).
# Exit status: 0 done; 2 usage; 3 a group is missing or not tagged; 4 a hook was refused.
set -uo pipefail

TERMINATE_HOOK=swarm-reflex-drain
TERMINATE_HEARTBEAT_TIMEOUT=600
TERMINATE_DEFAULT_RESULT=CONTINUE
LAUNCH_HOOK=swarm-reflex-join
LAUNCH_HEARTBEAT_TIMEOUT=1200
LAUNCH_DEFAULT_RESULT=CONTINUE
CLUSTER_TAG_KEY=swarm-reflex:cluster

AWS_CLI_BIN=${AWS_CLI:-aws}

log() { printf 'lifecycle-hooks: %s\n' "$*" >&2; }
die() {
  local code=$1
  shift
  log "error: $*"
  exit "$code"
}
usage() { die 2 "usage: $0 --cluster <clusterName> <auto-scaling-group> [<auto-scaling-group> ...]"; }

as() {
  local -a region=()
  [ -n "${AWS_REGION:-}" ] && region=(--region "$AWS_REGION")
  "$AWS_CLI_BIN" autoscaling "$@" "${region[@]}"
}

CLUSTER=''
GROUPS_GIVEN=()
while [ $# -gt 0 ]; do
  case $1 in
    --cluster)
      [ $# -ge 2 ] || usage
      CLUSTER=$2
      shift 2
      ;;
    --cluster=*)
      CLUSTER=${1#--cluster=}
      shift
      ;;
    -*) usage ;;
    *)
      GROUPS_GIVEN+=("$1")
      shift
      ;;
  esac
done
[ -n "$CLUSTER" ] && [ ${#GROUPS_GIVEN[@]} -gt 0 ] || usage
command -v "$AWS_CLI_BIN" >/dev/null 2>&1 || die 2 "no AWS CLI '${AWS_CLI_BIN}' (install it or set AWS_CLI)"

# The group's name and its cluster tag, tab-separated; "None" when there is no such group.
describe() {
  as describe-auto-scaling-groups --auto-scaling-group-names "$1" \
    --query "AutoScalingGroups[0].[AutoScalingGroupName, Tags[?Key=='${CLUSTER_TAG_KEY}'].Value | [0]]" \
    --output text
}

for group in "${GROUPS_GIVEN[@]}"; do
  found=$(describe "$group") || die 3 "cannot describe the Auto Scaling group ${group}"
  IFS=$'\t' read -r name tag <<<"$found"
  [ "$name" = "$group" ] || die 3 "there is no Auto Scaling group ${group}"
  [ "$tag" = "$CLUSTER" ] ||
    die 3 "${group} does not carry the tag ${CLUSTER_TAG_KEY}=${CLUSTER} (it has '${tag}'): node-lifecycle could not complete its lifecycle actions; tag the group first"
done

# `put GROUP NAME TRANSITION HEARTBEAT_TIMEOUT DEFAULT_RESULT`
put() {
  as put-lifecycle-hook --auto-scaling-group-name "$1" --lifecycle-hook-name "$2" \
    --lifecycle-transition "$3" --heartbeat-timeout "$4" --default-result "$5" >/dev/null ||
    die 4 "put-lifecycle-hook $2 on $1 was refused"
  log "$1: $2 ($3, heartbeat timeout $4 s, default result $5)"
}

for group in "${GROUPS_GIVEN[@]}"; do
  put "$group" "$TERMINATE_HOOK" autoscaling:EC2_INSTANCE_TERMINATING \
    "$TERMINATE_HEARTBEAT_TIMEOUT" "$TERMINATE_DEFAULT_RESULT"
  put "$group" "$LAUNCH_HOOK" autoscaling:EC2_INSTANCE_LAUNCHING \
    "$LAUNCH_HEARTBEAT_TIMEOUT" "$LAUNCH_DEFAULT_RESULT"
done
