# remote_lib.sh - helpers of the remote queue tests (sourced after lib.sh
# and lib_init): several sluiced "hosts" side by side on loopback, the
# QMQP peer of the test suite, and sluice-qmqpd under tcpserver.
#
#   host_start NAME NQ [VAR=VALUE]...   a sluiced of its own on WORK/NAME
#       (NQ queues made there the first time, socket WORK/NAME/sluiced.sock,
#       SLUICE_SCANNERS=null unless given); waits until it listens; its
#       pid in HPID[NAME], log in HLOG[NAME] (fail() shows the last one)
#   host_stop NAME / host_kill9 NAME    SIGTERM (exit 0 wanted) / SIGKILL
#   host_stat NAME KEY                  a live figure of its stats socket
#   host_remote NAME SERVER KEY         a figure of its "remote SERVER" line
#   host_todo NAME                      committed messages in its queues
#   host_spool_empty NAME WHAT          mess/ intd/ todo/ pid/ all empty
#   at NAME [VAR=VALUE]... QQSIM-ARGS   run_qq against host NAME
#   load_at NAME OUT [VAR=VALUE]... QQSIM-ARGS   load_qq against it
#   peer_start NAME MODE [serve args]   qmqp_peer.py serve (60 s life, 500
#       connections unless --count); its port in PPORT[NAME], the
#       connections it recorded under WORK/peer.NAME/
#   peer_stop NAME
#   qmqpd_start NAME HOST [VAR=VALUE]... tcpserver + sluice-qmqpd on a
#       loopback port (QPORT[NAME]) handing messages to host HOST's sluiced
#   qmqpd_stop NAME
#   dead_port                            a loopback port nobody listens on

declare -A HPID=() HLOG=() HN=() PPORT=() PPID_=() QPORT=() QPID=()
PEER="python3 $SLUICE_SRC/tests/integration/qmqp_peer.py"
QMQPD=$SLUICE_BIN/router/sluice-qmqpd

host_start() {
	local name=$1 nq=$2 base=$WORK/$1 i
	shift 2
	if [ ! -d "$base" ]; then
		mkdir -p "$base"
		"$MKQ" -q -b "$base" -c "$nq" || fail "sluice-mkqueue -b $base -c $nq failed"
	fi
	HN[$name]=$nq
	NSTART=$((NSTART + 1))
	HLOG[$name]=$WORK/$name.$NSTART.log
	DLOG=${HLOG[$name]}
	: >"$DLOG"
	local wrap=() tries=200
	if [ "${SLUICE_TEST_VALGRIND:-0}" = 1 ]; then	# as lib.sh's daemon_start
		wrap=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
			--show-leak-kinds=definite --track-fds=no "--log-file=$WORK/valgrind.%p")
		tries=1200
	fi
	env QUEUE_BASE="$base" QUEUE_COUNT="$nq" SLUICE_SCANNERS=null $AS_USER "$@" \
		"${wrap[@]}" "$SLUICED" 2>>"$DLOG" </dev/null &
	HPID[$name]=$!
	track "${HPID[$name]}"
	for ((i = 0; i < tries; i++)); do
		if grep -q '^sluiced: listening on ' "$DLOG" && [ -S "$base/sluiced.sock" ]; then
			return 0
		fi
		if ! kill -0 "${HPID[$name]}" 2>/dev/null; then
			wait "${HPID[$name]}" || true
			fail "sluiced ($name) exited at start: $(cat "$DLOG")"
		fi
		sleep 0.05
	done
	fail "sluiced ($name) did not listen within $((tries / 20)) s"
}

host_stop() {
	local p=${HPID[$1]} rc=0 i
	kill -TERM "$p" || fail "sluiced ($1) is not running"
	for ((i = 0; i < 400 && rc == 0; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	wait "$p" || rc=$?
	if grep -q '^==' "$WORK/valgrind.$p" 2>/dev/null; then
		fail "sluiced ($1): valgrind: $(grep '^==' "$WORK/valgrind.$p" | head -c 3000)"
	fi
	[ "$rc" = 0 ] || fail "sluiced ($1) exited $rc after SIGTERM"
}

host_kill9() {
	kill -9 "${HPID[$1]}" 2>/dev/null || true
	wait "${HPID[$1]}" 2>/dev/null || true
}

host_stat() {
	SLUICE_SOCKET=$WORK/$1/sluiced.sock "$QSTAT" --live -b "$WORK/$1" -c "${HN[$1]}" \
		2>/dev/null | sed -n "s/^sluiced: $2 //p"
}

# host_remote NAME SERVER KEY - a figure of the "remote SERVER ..." line
host_remote() {
	SLUICE_SOCKET=$WORK/$1/sluiced.sock "$QSTAT" --live -b "$WORK/$1" -c "${HN[$1]}" \
		2>/dev/null | awk -v s="$2" -v k="$3" '$2 == "remote" && $3 == s {
			for (i = 4; i < NF; i += 2) if ($i == k) print $(i + 1) }'
}

host_todo() {
	find "$WORK/$1"/queue*/todo -type f | wc -l
}

host_spool_empty() {
	local n
	n=$(find "$WORK/$1"/queue*/mess "$WORK/$1"/queue*/intd "$WORK/$1"/queue*/todo \
		"$WORK/$1"/queue*/pid -mindepth 1 ! -type d | wc -l)
	[ "$n" = 0 ] || fail "$2: $n file(s) left in $1's queues: $(find "$WORK/$1"/queue* -type f -path '*/[mitp][eno][sdt]*' | head -3)"
}

at() {
	local name=$1
	shift
	SOCK=$WORK/$name/sluiced.sock run_qq "$@"
}

load_at() {
	local name=$1
	shift
	SOCK=$WORK/$name/sluiced.sock load_qq "$@"
}

peer_start() {
	local name=$1 mode=$2 d=$WORK/peer.$1
	shift 2
	rm -rf "$d"
	mkdir -p "$d"
	setsid $PEER serve --port-file "$d/port" --record "$d" --mode "$mode" --count 500 \
		--life 60 "$@" >"$d/out" 2>&1 </dev/null &
	PPID_[$name]=$!
	track "${PPID_[$name]}"
	wait_until 10 "the QMQP peer $name to listen" test -s "$d/port"
	PPORT[$name]=$(cat "$d/port")
}

peer_stop() {
	kill "${PPID_[$1]}" 2>/dev/null || true
	wait "${PPID_[$1]}" 2>/dev/null || true
}

# peer_got NAME - requests the peer recorded
peer_got() {
	find "$WORK/peer.$1" -name 'request.*' | wc -l
}

qmqpd_start() {
	local name=$1 host=$2 f=$WORK/qmqpd.$1.port
	shift 2
	: >"$f"
	env SLUICE_SOCKET="$WORK/$host/sluiced.sock" "$@" tcpserver -1 -v -R -H -l central.example \
		-c 100 127.0.0.1 0 "$QMQPD" >"$f" 2>"$WORK/qmqpd.$name.log" </dev/null &
	QPID[$name]=$!
	track "${QPID[$name]}"
	wait_until 10 "tcpserver ($name) to listen" test -s "$f"
	QPORT[$name]=$(head -n 1 "$f")
}

qmqpd_stop() {
	kill "${QPID[$1]}" 2>/dev/null || true
	wait "${QPID[$1]}" 2>/dev/null || true
}

dead_port() {
	local p
	p=$(free_port)
	echo "$p"
}
