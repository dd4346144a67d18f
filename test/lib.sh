# Shared by the integration scripts: result counting, polling with deadlines, a private copy of
# the shipped configuration. Source it after setting WAVEGUARD and SRC.

TMP=$(mktemp -d /tmp/waveguard-it.XXXXXX)
PIDS=()
pass=0
fail=0

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   - $1"; }
not_ok() { fail=$((fail + 1)); echo "FAIL - $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/       /'; }
check() { # check NAME COMMAND...: passes when the command succeeds
	local name=$1; shift
	local out
	if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$out"; fi
}
expect_rc() { # expect_rc NAME RC COMMAND...
	local name=$1 want=$2; shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	local rc=$?
	if [ "$rc" = "$want" ]; then ok "$name"; else not_ok "$name (rc $rc, want $want)" "$(cat "$TMP/err")"; fi
}
# wait_for NAME SECONDS COMMAND...: polls the outcome until it holds or the deadline passes.
wait_for() {
	local name=$1 secs=$2; shift 2
	local end=$((SECONDS + secs))
	while [ $SECONDS -lt $end ]; do
		"$@" >/dev/null 2>&1 && { ok "$name"; return 0; }
		sleep 0.05
	done
	not_ok "$name (no result within ${secs}s)"
	return 1
}

# mkconf DIR LOGFILE STATEDIR: the shipped configuration with test paths.
mkconf() {
	local d=$1
	mkdir -p "$d"
	cp -r "$SRC/waveguard.conf" "$SRC/trap-recipients" "$SRC/conf.d" "$SRC/filters" "$SRC/actions" "$d/"
	sed -i -e "s|^state_dir = .*|state_dir = $3|" -e "s|^control_socket = .*|control_socket = $d/control|" \
		"$d/waveguard.conf"
	sed -i -e "s|^source = .*|source = $2|" -e "/^backend = \(bans\|reaper\)\$/!s|^backend = .*|backend = files|" "$d"/conf.d/*.conf
	# The tuner works on a Courier directory of the test's own, never on the host's /etc/courier.
	mkdir -p "$d/courier"
	sed -i "s|^directory = .*|directory = $d/courier|" "$d/actions/courier-timeouts.conf"
	sed -i "s|^esmtpd = .*|esmtpd = $d/courier/esmtpd|" "$d/waveguard.conf"
	chmod -R go-w "$d"
}

# promtool, Prometheus' own checker, from the cache fetch_promtool fills (see test/promtool).
promtool_path() {
	local p=/var/cache/waveguard-test/promtool/usr/bin/promtool
	[ -x "$p" ] && echo "$p"
}

finish() {
	echo
	echo "$1: $pass passed, $fail failed"
	[ "$fail" = 0 ]
}
