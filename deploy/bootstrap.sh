#!/bin/bash
# swarm-reflex node bootstrap: makes a new EC2 instance join the cluster's Docker Swarm.
#
# Runs as root at first boot from the launch template's user-data, for example:
#
#   #!/bin/bash
#   export ROLE=worker SETTINGS_PREFIX=/swarm-reflex/prod AWS_REGION=eu-west-1
#   /opt/swarm-reflex/bootstrap.sh
#
# or at every boot from deploy/swarm-reflex-join.service, which a group with a warm pool
# needs: its instances are launched (first boot) into the pool and join later, when the group
# takes them out of it (a stopped one boots again then; user data does not run again).
#
# Safe to run again (and concurrently: runs are serialised by a lock): an engine that is
# already an active swarm member is left alone.
#
# Steps: wait for the local engine; read the instance ID and private IPv4 from IMDSv2; label
# the engine aws.instance-id=<id> in daemon.json and reload dockerd (so the node's
# description carries the label from the moment it joins; replace-node finds the instance by
# it); wait while the Auto Scaling group is taking the instance into its warm pool (IMDS
# autoscaling/target-lifecycle-state Warmed:*: a node that joined from the pool would be
# stopped there, down in the swarm, and replaced), and do not join one it is terminating;
# read the join token and the manager addresses that sync-join-tokens keeps in SSM;
# `docker swarm join` via each manager in turn until one works.
#
# Settings (environment):
#   ROLE                         worker | manager (required)
#   SETTINGS_PREFIX              SSM path, e.g. /swarm-reflex/prod (required); reads
#                                <prefix>/swarm/join-token-<ROLE> (SecureString) and
#                                <prefix>/swarm/manager-addresses (String, "host:port,host:port")
#   AWS_REGION                   passed to the AWS CLI as --region when set
#   AWS_CLI                      the AWS CLI to call (default: aws)
#   DOCKER                       the Docker CLI to call (default: docker); DOCKER_HOST is honoured
#   IMDS_ENDPOINT                default http://169.254.169.254
#   DOCKER_DAEMON_JSON           default /etc/docker/daemon.json
#   DOCKER_PIDFILE               default /var/run/docker.pid (when unset and missing:
#                                `systemctl reload docker`)
#   BOOTSTRAP_LOCK               default /run/swarm-reflex-bootstrap.lock
#   BOOTSTRAP_DOCKER_WAIT_SECONDS   how long to wait for the engine to answer (120)
#   BOOTSTRAP_IMDS_ATTEMPTS         (6)
#   BOOTSTRAP_LABEL_WAIT_SECONDS    how long to wait for the reloaded label (30)
#   BOOTSTRAP_WARM_POLL_SECONDS     how often to ask IMDS whether the instance left the warm
#                                   pool (10); it waits as long as the instance stays there
#   BOOTSTRAP_SSM_ATTEMPTS          per parameter; a new cluster may not have them yet (20)
#   BOOTSTRAP_JOIN_ROUNDS           rounds over all manager addresses (5)
#   BOOTSTRAP_JOIN_TIMEOUT_SECONDS  limit for one `docker swarm join` (60; dockerd itself
#                                   gives up waiting after 20 s)
#   BOOTSTRAP_PROBE_TIMEOUT_SECONDS TCP check of a manager address before joining via it;
#                                   0 disables the check (3)
#   BOOTSTRAP_RETRY_BASE_SECONDS    first backoff delay, doubled per attempt (2)
#   BOOTSTRAP_RETRY_MAX_SECONDS     backoff ceiling (30)
#
# Exit status: 0 joined, already a member, or not joined because the instance is being
# terminated; 2 bad settings; 3 engine not answering or
# in a state this script cannot fix; 4 no instance identity from IMDS; 5 label not applied;
# 6 SSM parameters unreadable; 7 no manager let the node join.
#
# Secrets: the join token (and the IMDS session token) are never logged, also not under
# `set -x` / `bash -x`: tracing is switched off around every line that handles them, and the
# output of `docker swarm join` is redacted before it is logged. The token does appear on
# the `docker swarm join` command line for the moment it runs (the CLI takes it no other way).

set -uo pipefail
umask 022

log() { printf 'bootstrap: %s\n' "$*" >&2; }
die() {
  local code=$1
  shift
  log "error: $*"
  exit "$code"
}

# Tracing off while secrets are handled; restored to what it was.
quiet_begin() {
  case $- in
    *x*) QUIET_RESTORE_XTRACE=1 ;;
    *) QUIET_RESTORE_XTRACE=0 ;;
  esac
  set +x
} 2>/dev/null
quiet_end() {
  if [ "${QUIET_RESTORE_XTRACE:-0}" = 1 ]; then set -x; fi
} 2>/dev/null

# ---------------------------------------------------------------------------------------
# Settings

ROLE=${ROLE:-}
SETTINGS_PREFIX=${SETTINGS_PREFIX:-}
DOCKER_BIN=${DOCKER:-docker}
AWS_CLI_BIN=${AWS_CLI:-aws}
IMDS_ENDPOINT=${IMDS_ENDPOINT:-http://169.254.169.254}
DAEMON_JSON=${DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}
PIDFILE=${DOCKER_PIDFILE:-/var/run/docker.pid}
LOCK_FILE=${BOOTSTRAP_LOCK:-/run/swarm-reflex-bootstrap.lock}
DOCKER_WAIT=${BOOTSTRAP_DOCKER_WAIT_SECONDS:-120}
IMDS_ATTEMPTS=${BOOTSTRAP_IMDS_ATTEMPTS:-6}
LABEL_WAIT=${BOOTSTRAP_LABEL_WAIT_SECONDS:-30}
WARM_POLL=${BOOTSTRAP_WARM_POLL_SECONDS:-10}
SSM_ATTEMPTS=${BOOTSTRAP_SSM_ATTEMPTS:-20}
JOIN_ROUNDS=${BOOTSTRAP_JOIN_ROUNDS:-5}
JOIN_TIMEOUT=${BOOTSTRAP_JOIN_TIMEOUT_SECONDS:-60}
PROBE_TIMEOUT=${BOOTSTRAP_PROBE_TIMEOUT_SECONDS:-3}
RETRY_BASE=${BOOTSTRAP_RETRY_BASE_SECONDS:-2}
RETRY_MAX=${BOOTSTRAP_RETRY_MAX_SECONDS:-30}

LABEL_KEY=aws.instance-id
SWARM_PORT=2377

validate_settings() {
  case $ROLE in
    worker | manager) ;;
    *) die 2 "ROLE must be worker or manager (got '${ROLE}')" ;;
  esac
  SETTINGS_PREFIX=${SETTINGS_PREFIX%/}
  [[ $SETTINGS_PREFIX =~ ^/[A-Za-z0-9_./-]+$ ]] ||
    die 2 "SETTINGS_PREFIX must be an SSM path such as /swarm-reflex/prod (got '${SETTINGS_PREFIX}')"
  local name
  for name in DOCKER_WAIT IMDS_ATTEMPTS LABEL_WAIT WARM_POLL SSM_ATTEMPTS JOIN_ROUNDS JOIN_TIMEOUT \
    PROBE_TIMEOUT RETRY_BASE RETRY_MAX; do
    [[ ${!name} =~ ^[0-9]{1,6}$ ]] || die 2 "$(setting_name "$name") must be a whole number (got '${!name}')"
  done
  for name in IMDS_ATTEMPTS WARM_POLL SSM_ATTEMPTS JOIN_ROUNDS JOIN_TIMEOUT; do
    ((${!name} >= 1)) || die 2 "$(setting_name "$name") must be at least 1"
  done
  [[ ${AWS_REGION:-} =~ ^[a-z0-9-]*$ ]] || die 2 "AWS_REGION is not a region name (got '${AWS_REGION}')"
  command -v "$DOCKER_BIN" >/dev/null 2>&1 || die 2 "no Docker CLI '${DOCKER_BIN}' (set DOCKER)"
  command -v "$AWS_CLI_BIN" >/dev/null 2>&1 || die 2 "no AWS CLI '${AWS_CLI_BIN}' (install it or set AWS_CLI)"
  command -v curl >/dev/null 2>&1 || die 2 "curl is needed to read the instance metadata"
}

setting_name() {
  case $1 in
    DOCKER_WAIT) echo BOOTSTRAP_DOCKER_WAIT_SECONDS ;;
    LABEL_WAIT) echo BOOTSTRAP_LABEL_WAIT_SECONDS ;;
    WARM_POLL) echo BOOTSTRAP_WARM_POLL_SECONDS ;;
    JOIN_TIMEOUT) echo BOOTSTRAP_JOIN_TIMEOUT_SECONDS ;;
    PROBE_TIMEOUT) echo BOOTSTRAP_PROBE_TIMEOUT_SECONDS ;;
    RETRY_BASE) echo BOOTSTRAP_RETRY_BASE_SECONDS ;;
    RETRY_MAX) echo BOOTSTRAP_RETRY_MAX_SECONDS ;;
    *) echo "BOOTSTRAP_$1" ;;
  esac
}

# Exponential backoff with a little jitter: attempt 1 waits about RETRY_BASE seconds.
backoff() {
  local attempt=$1 delay
  ((attempt > 10)) && attempt=10
  delay=$((RETRY_BASE << (attempt - 1)))
  ((delay > 0)) && delay=$((delay + RANDOM % (delay / 2 + 1)))
  ((delay > RETRY_MAX)) && delay=$RETRY_MAX
  ((delay > 0)) && sleep "$delay"
  return 0
}

# The last non-empty line of a file, trimmed: what a CLI said when it failed.
last_line() {
  local line last=''
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line//$'\r'/}
    line=${line%"${line##*[![:space:]]}"}
    [ -n "$line" ] && last=$line
  done <"$1"
  printf '%s' "${last:-no output}"
}

# ---------------------------------------------------------------------------------------
# The engine

dk() { "$DOCKER_BIN" "$@"; }

local_state() { dk info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null; }

wait_for_engine() {
  local deadline=$((SECONDS + DOCKER_WAIT))
  until dk info --format '{{.ID}}' >/dev/null 2>"$WORK/docker.err"; do
    ((SECONDS >= deadline)) &&
      die 3 "the Docker engine (${DOCKER_HOST:-default socket}) did not answer within ${DOCKER_WAIT} s: $(last_line "$WORK/docker.err")"
    sleep 1
  done
}

leave_swarm() {
  if dk swarm leave --force >/dev/null 2>"$WORK/leave.err"; then
    log "left the half-joined swarm ($1)"
  else
    log "could not leave the half-joined swarm: $(last_line "$WORK/leave.err")"
  fi
}

# Step 1. Returns 0 when there is nothing to do.
already_member() {
  local state deadline
  state=$(local_state)
  case $state in
    active)
      log "this engine is already an active swarm member ($(dk info --format '{{.Swarm.NodeID}}' 2>/dev/null)); nothing to do"
      return 0
      ;;
    locked)
      log "this engine is already a swarm member but locked (autolock): unlock it with 'docker swarm unlock'; nothing to do"
      return 0
      ;;
    pending)
      # An earlier run's join may still complete in the background; give it a moment.
      log "a join is pending from an earlier attempt; waiting up to 20 s for it"
      deadline=$((SECONDS + 20))
      while ((SECONDS < deadline)); do
        sleep 2
        state=$(local_state)
        if [ "$state" = active ]; then
          log "the pending join completed; nothing to do"
          return 0
        fi
        [ "$state" = pending ] || break
      done
      [ "$state" = pending ] && leave_swarm "stuck in pending"
      ;;
    error) leave_swarm "local swarm state was error" ;;
    inactive) ;;
    *) die 3 "unexpected swarm state '${state}' of the local engine" ;;
  esac
  return 1
}

# ---------------------------------------------------------------------------------------
# Step 2: instance identity from IMDSv2

INSTANCE_ID=''
PRIVATE_IP=''

imds() {
  curl -fsS --connect-timeout 2 --max-time 5 "$@" 2>"$WORK/imds.err"
}

fetch_identity() {
  local attempt token id ip
  quiet_begin
  for ((attempt = 1; attempt <= IMDS_ATTEMPTS; attempt++)); do
    if token=$(imds -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$IMDS_ENDPOINT/latest/api/token") &&
      [ -n "$token" ] &&
      id=$(imds -H "X-aws-ec2-metadata-token: $token" "$IMDS_ENDPOINT/latest/meta-data/instance-id") &&
      ip=$(imds -H "X-aws-ec2-metadata-token: $token" "$IMDS_ENDPOINT/latest/meta-data/local-ipv4"); then
      quiet_end
      [[ $id =~ ^i-[0-9a-f]{8,17}$ ]] || die 4 "IMDS returned an instance ID that does not look like one: '${id:0:40}'"
      [[ $ip =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]] || die 4 "IMDS returned a private IPv4 that does not look like one: '${ip:0:40}'"
      INSTANCE_ID=$id
      PRIVATE_IP=$ip
      log "instance ${INSTANCE_ID}, private address ${PRIVATE_IP}"
      return 0
    fi
    log "instance metadata not available (attempt ${attempt}/${IMDS_ATTEMPTS}): $(last_line "$WORK/imds.err")"
    ((attempt < IMDS_ATTEMPTS)) && backoff "$attempt"
  done
  quiet_end
  die 4 "could not read the instance ID and private IPv4 from IMDSv2 at ${IMDS_ENDPOINT} after ${IMDS_ATTEMPTS} attempts"
}

# ---------------------------------------------------------------------------------------
# Step 3: the engine label, before joining

engine_has_label() {
  dk info --format '{{range .Labels}}{{println .}}{{end}}' 2>/dev/null | grep -Fqx -- "$1"
}

have_python() { command -v python3 >/dev/null 2>&1 && python3 -c '' >/dev/null 2>&1; }

# `json_labels check|merge FILE LABEL`: check succeeds when FILE's labels hold LABEL;
# merge prints FILE with every other aws.instance-id label dropped and LABEL added.
json_labels() {
  local mode=$1 file=$2 label=$3
  if command -v jq >/dev/null 2>&1; then
    local base='if type != "object" then error("not a JSON object") else . end
      | if (.labels // []) | type != "array" then error("\"labels\" is not a list") else . end'
    if [ "$mode" = check ]; then
      jq -e --arg l "$label" "$base | (.labels // []) | any(.[]; . == \$l)" "$file" >/dev/null 2>&1
    else
      jq --arg l "$label" --arg k "${LABEL_KEY}=" \
        "$base | .labels = ([(.labels // [])[] | select(type != \"string\" or (startswith(\$k) | not))] + [\$l])" "$file"
    fi
  elif have_python; then
    python3 - "$mode" "$file" "$label" "${LABEL_KEY}=" <<'PY'
import json, sys
mode, path, label, key = sys.argv[1:5]
with open(path) as f:
    cfg = json.load(f)
if not isinstance(cfg, dict):
    sys.exit("not a JSON object")
labels = cfg.get("labels", [])
if not isinstance(labels, list):
    sys.exit('"labels" is not a list')
if mode == "check":
    sys.exit(0 if label in labels else 1)
cfg["labels"] = [l for l in labels if not (isinstance(l, str) and l.startswith(key))] + [label]
json.dump(cfg, sys.stdout, indent=2)
print()
PY
  else
    return 3
  fi
}

blank_config() {
  [ ! -e "$DAEMON_JSON" ] && return 0
  local content
  content=$(tr -d ' \t\r\n' <"$DAEMON_JSON") || return 1
  [ -z "$content" ] || [ "$content" = '{}' ]
}

write_label_to_config() {
  local label=$1 dir tmp rc
  if [ -s "$DAEMON_JSON" ] && json_labels check "$DAEMON_JSON" "$label" 2>/dev/null; then
    log "${DAEMON_JSON} already has ${label}"
    return 0
  fi
  dir=$(dirname -- "$DAEMON_JSON")
  mkdir -p -- "$dir" || die 5 "cannot create ${dir}"
  tmp=$(mktemp "${dir}/.daemon.json.XXXXXX") || die 5 "cannot write in ${dir}"
  if blank_config; then
    printf '{\n  "labels": ["%s"]\n}\n' "$label" >"$tmp"
  else
    json_labels merge "$DAEMON_JSON" "$label" >"$tmp" 2>"$WORK/json.err"
    rc=$?
    if ((rc == 3)); then
      rm -f -- "$tmp"
      die 5 "${DAEMON_JSON} has settings of its own and neither jq nor python3 is here to merge ${label} into it"
    elif ((rc != 0)); then
      rm -f -- "$tmp"
      die 5 "cannot merge ${label} into ${DAEMON_JSON}: $(last_line "$WORK/json.err")"
    fi
  fi
  chmod 0644 -- "$tmp"
  mv -f -- "$tmp" "$DAEMON_JSON" || die 5 "cannot replace ${DAEMON_JSON}"
  log "wrote ${label} to ${DAEMON_JSON}"
}

reload_dockerd() {
  local pid=''
  [ -r "$PIDFILE" ] && pid=$(tr -dc '0-9' <"$PIDFILE")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -HUP "$pid" || die 5 "cannot signal dockerd (pid ${pid})"
    log "sent SIGHUP to dockerd (pid ${pid}) to reload ${DAEMON_JSON}"
  elif [ -z "${DOCKER_PIDFILE:-}" ] && command -v systemctl >/dev/null 2>&1 &&
    systemctl reload docker 2>"$WORK/reload.err"; then
    log "reloaded docker.service"
  else
    die 5 "cannot reload dockerd: no running pid in ${PIDFILE} (set DOCKER_PIDFILE)"
  fi
}

ensure_label() {
  local label="${LABEL_KEY}=${INSTANCE_ID}" deadline
  if engine_has_label "$label"; then
    log "the engine already carries ${label}"
    return 0
  fi
  write_label_to_config "$label"
  reload_dockerd
  deadline=$((SECONDS + LABEL_WAIT))
  until engine_has_label "$label"; do
    ((SECONDS >= deadline)) &&
      die 5 "dockerd did not show ${label} within ${LABEL_WAIT} s of the reload; its log says why (a common cause: 'labels' also given as a --label flag, which makes dockerd refuse to reload)"
    sleep 0.5
  done
  log "the engine carries ${label}"
}

# ---------------------------------------------------------------------------------------
# Step 4: not from a warm pool, not on the way out

LIFECYCLE_STATE=''

# Sets LIFECYCLE_STATE to where the Auto Scaling group is taking this instance, '' when the
# instance metadata has no such item (not an Auto Scaling instance). Fails when IMDS does not
# answer.
read_lifecycle_state() {
  local token code='' rc
  quiet_begin
  token=$(imds -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$IMDS_ENDPOINT/latest/api/token") &&
    [ -n "$token" ] &&
    code=$(curl -sS --connect-timeout 2 --max-time 5 -o "$WORK/lifecycle-state" -w '%{http_code}' \
      -H "X-aws-ec2-metadata-token: $token" \
      "$IMDS_ENDPOINT/latest/meta-data/autoscaling/target-lifecycle-state" 2>"$WORK/imds.err")
  rc=$?
  quiet_end
  ((rc == 0)) || return 1
  case $code in
    200) LIFECYCLE_STATE=$(tr -d '\r\n' <"$WORK/lifecycle-state") ;;
    404) LIFECYCLE_STATE='' ;;
    *)
      echo "HTTP ${code}" >"$WORK/imds.err"
      return 1
      ;;
  esac
}

# While the target state is Warmed:* (launched into the warm pool, or back in it), wait: the
# instance joins when the group puts it in service. A stopped pool instance is stopped during
# this wait, and runs the bootstrap again when it boots on its way out.
wait_until_in_service() {
  local failures=0 waiting=''
  for (( ; ; )); do
    if ! read_lifecycle_state; then
      failures=$((failures + 1))
      ((failures >= IMDS_ATTEMPTS)) &&
        die 4 "could not read autoscaling/target-lifecycle-state from IMDSv2 after ${IMDS_ATTEMPTS} attempts: $(last_line "$WORK/imds.err"); not joining, the instance may be on its way into a warm pool"
      backoff "$failures"
      continue
    fi
    failures=0
    case $LIFECYCLE_STATE in
      '')
        log "no Auto Scaling lifecycle state in the instance metadata (not an Auto Scaling instance)"
        return 0
        ;;
      Terminated | Warmed:Terminated)
        log "the Auto Scaling group is terminating this instance (${LIFECYCLE_STATE}); not joining"
        exit 0
        ;;
      Warmed:*)
        if [ -z "$waiting" ]; then
          log "the instance is in the warm pool (${LIFECYCLE_STATE}); it joins when the group puts it in service"
        fi
        waiting=$LIFECYCLE_STATE
        sleep "$WARM_POLL"
        ;;
      *)
        log "Auto Scaling target lifecycle state: ${LIFECYCLE_STATE}"
        return 0
        ;;
    esac
  done
}

# ---------------------------------------------------------------------------------------
# Step 5: what the cluster keeps in SSM

JOIN_TOKEN=''
MANAGER_ADDRESSES=''

# `read_parameter VAR NAME [--with-decryption]`: sets VAR to the parameter's value. Tracing
# stays off throughout: VAR may be a secret.
read_parameter() {
  local var=$1 name=$2 attempt value
  local args=(ssm get-parameter --name "$name" --query Parameter.Value --output text)
  [ $# -ge 3 ] && args+=("$3")
  [ -n "${AWS_REGION:-}" ] && args+=(--region "$AWS_REGION")
  quiet_begin
  for ((attempt = 1; attempt <= SSM_ATTEMPTS; attempt++)); do
    if value=$("$AWS_CLI_BIN" "${args[@]}" 2>"$WORK/ssm.err") && [ -n "$value" ] && [ "$value" != None ]; then
      printf -v "$var" '%s' "$value"
      quiet_end
      return 0
    fi
    [ -s "$WORK/ssm.err" ] || echo "empty value" >"$WORK/ssm.err"
    log "cannot read ${name} yet (attempt ${attempt}/${SSM_ATTEMPTS}): $(last_line "$WORK/ssm.err")"
    ((attempt < SSM_ATTEMPTS)) && backoff "$attempt"
  done
  quiet_end
  die 6 "cannot read SSM parameter ${name} after ${SSM_ATTEMPTS} attempts (last answer: $(last_line "$WORK/ssm.err")). It is written by the sync-join-tokens function; check that it has run for this cluster and that this instance's role may call ssm:GetParameter (and kms:Decrypt) on it"
}

read_join_settings() {
  read_parameter JOIN_TOKEN "${SETTINGS_PREFIX}/swarm/join-token-${ROLE}" --with-decryption
  read_parameter MANAGER_ADDRESSES "${SETTINGS_PREFIX}/swarm/manager-addresses"
}

# ---------------------------------------------------------------------------------------
# Step 6: join

MANAGERS=()

parse_managers() {
  local entry
  local -a entries
  MANAGERS=()
  IFS=, read -r -a entries <<<"$MANAGER_ADDRESSES"
  for entry in "${entries[@]}"; do
    entry=${entry//[[:space:]]/}
    [ -z "$entry" ] && continue
    if [[ $entry =~ ^[A-Za-z0-9.-]+$ ]]; then
      entry="${entry}:${SWARM_PORT}"
    elif ! [[ $entry =~ ^[A-Za-z0-9.-]+:[0-9]{1,5}$ ]]; then
      log "ignoring manager address '${entry:0:80}': not host:port"
      continue
    fi
    MANAGERS+=("$entry")
  done
}

# Does anything accept TCP connections at host:port? Unanswered ARP or a firewall that drops
# would otherwise cost dockerd's full 20 s join timeout per dead address.
reachable() {
  ((PROBE_TIMEOUT == 0)) && return 0
  command -v timeout >/dev/null 2>&1 || return 0
  # shellcheck disable=SC2016 # $0 and $1 are the inner shell's, on purpose
  timeout "$PROBE_TIMEOUT" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "${1%:*}" "${1##*:}" 2>/dev/null
}

# `try_join MANAGER`: 0 when this engine is an active member afterwards.
try_join() {
  local manager=$1 output rc state
  local -a limit=()
  command -v timeout >/dev/null 2>&1 && limit=(timeout "$JOIN_TIMEOUT")
  quiet_begin
  output=$("${limit[@]}" "$DOCKER_BIN" swarm join --token "$JOIN_TOKEN" --advertise-addr "$PRIVATE_IP" "$manager" 2>&1)
  rc=$?
  output=${output//"$JOIN_TOKEN"/<redacted>}
  quiet_end
  output=${output//$'\n'/ }
  if ((rc == 0)); then
    log "joined via ${manager}: ${output}"
    return 0
  fi
  state=$(local_state)
  case $state in
    active)
      # "This node is already part of a swarm", or a join that finished after the CLI gave up.
      log "joined via ${manager} (docker said: ${output})"
      return 0
      ;;
    pending | error)
      # dockerd keeps a timed-out join going in the background, against this one manager, and
      # refuses any other join until it is abandoned.
      log "join via ${manager} failed (${output}); abandoning it"
      leave_swarm "join via ${manager} left it ${state}"
      ;;
    *) log "join via ${manager} failed (exit ${rc}): ${output}" ;;
  esac
  return 1
}

join_swarm() {
  local round manager
  for ((round = 1; round <= JOIN_ROUNDS; round++)); do
    # Re-read every round: the token may have been rotated, the managers may have changed.
    ((round > 1)) && read_join_settings
    parse_managers
    if ((${#MANAGERS[@]} == 0)); then
      log "no usable manager address in ${SETTINGS_PREFIX}/swarm/manager-addresses ('${MANAGER_ADDRESSES:0:200}')"
    fi
    for manager in "${MANAGERS[@]}"; do
      if ! reachable "$manager"; then
        log "manager ${manager} refused or did not answer within ${PROBE_TIMEOUT} s; trying the next"
        continue
      fi
      log "joining as ${ROLE} via ${manager} (round ${round}/${JOIN_ROUNDS})"
      if try_join "$manager"; then
        report_membership
        return 0
      fi
    done
    ((round < JOIN_ROUNDS)) && backoff "$round"
  done
  die 7 "could not join the swarm as ${ROLE} via any of '${MANAGER_ADDRESSES:0:200}' in ${JOIN_ROUNDS} rounds"
}

report_membership() {
  local node manager
  node=$(dk info --format '{{.Swarm.NodeID}}' 2>/dev/null)
  manager=$(dk info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)
  if [ "$ROLE" = manager ] && [ "$manager" != true ]; then
    log "warning: joined as a worker although ROLE=manager: ${SETTINGS_PREFIX}/swarm/join-token-manager holds a worker token"
  elif [ "$ROLE" = worker ] && [ "$manager" = true ]; then
    log "warning: joined as a manager although ROLE=worker: ${SETTINGS_PREFIX}/swarm/join-token-worker holds a manager token"
  fi
  log "this engine is swarm node ${node} (${ROLE}), labelled ${LABEL_KEY}=${INSTANCE_ID}"
}

# ---------------------------------------------------------------------------------------

main() {
  validate_settings
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/swarm-reflex-bootstrap.XXXXXX") || die 1 "cannot create a temp dir"
  trap 'rm -rf -- "$WORK"' EXIT

  if command -v flock >/dev/null 2>&1; then
    exec 9>>"$LOCK_FILE" || die 1 "cannot open the lock ${LOCK_FILE}"
    flock -w 900 9 || die 1 "another bootstrap has held ${LOCK_FILE} for 15 minutes"
  fi

  wait_for_engine
  already_member && exit 0
  fetch_identity
  ensure_label
  wait_until_in_service
  read_join_settings
  join_swarm
}

main "$@"
