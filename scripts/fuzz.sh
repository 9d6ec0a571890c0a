#!/usr/bin/env bash
# fuzz.sh is `make fuzz`: it finds every fuzz target in the module and runs
# each for FUZZTIME (default 60s), one after the other, printing per target
#
#   BENCH fuzz_execs_<pkg>_<Name> N execs
#   BENCH fuzz_seconds_<pkg>_<Name> S s
#
# N sums go's last "fuzz: elapsed: …, execs: N" line of each round; S is
# wall time, build included. A target
# that has not reached MINEXECS (default 1,000,000) after one round runs
# further rounds of FUZZTIME, up to FUZZROUNDS (default 6), resuming from
# the corpus the last round cached; it fails if it is still short then.
# The rounds are for targets whose every input is costly (a decoded image,
# a CLI whose test binary links net/http): their rate is printed, not
# hidden. It fails if any target crashes; go writes the crashing input to
# <pkg>/testdata/fuzz/<Name>/, where it becomes a seed that plain `go test`
# replays from then on (commit it with the fix). FUZZ selects targets by
# regexp (default all), FUZZPKGS the packages (default ./...), FUZZPARALLEL
# the workers per target (default: every core), FUZZMINIMIZE the
# minimisation budget per input (default 100x). MINEXECS=0 gives one round
# each, as make test's short run does.
#
# The corpus is kept in testdata: after each target, the inputs go found
# interesting, which it keeps in $GOCACHE/fuzz/<importpath>/<Name>/, are
# copied into <pkg>/testdata/fuzz/<Name>/, where plain `go test` replays them
# on every run and where the next `make fuzz` on a fresh machine starts
# from. go names each input by its hash, so copying is idempotent. Inputs
# are taken smallest first until the target's testdata holds FUZZCORPUSKB
# (default 1024 KiB): go writes []byte inputs as quoted strings, so a 6 KB
# image from reader/qr's FuzzDecode is a 20 KB file, and the whole cache of
# that one target would add 13 MB to the repository. The rest stays in the
# cache. BENCH fuzz_corpus_<pkg>_<Name> counts what testdata then holds.
# FUZZSAVE=0, as in make test, leaves testdata alone.
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-60s}
FUZZ=${FUZZ:-.}
FUZZPKGS=${FUZZPKGS:-./...}
FUZZPARALLEL=${FUZZPARALLEL:-$(nproc)}
# Minimising every new interesting input can take most of a short budget
# (the default is 60 s each, and the exec rate drops to 0 meanwhile); a
# crasher is still written, just less minimised.
FUZZMINIMIZE=${FUZZMINIMIZE:-100x}
MINEXECS=${MINEXECS:-1000000}
FUZZROUNDS=${FUZZROUNDS:-6}
FUZZSAVE=${FUZZSAVE:-1}
FUZZCORPUSKB=${FUZZCORPUSKB:-1024}

mod=$(go list -m)
list=$(mktemp)
trap 'rm -f "$list" "$log"' EXIT
log=$(mktemp)

# `go test -list` prints the matching names, then "ok <pkg> …" per package.
# A package that does not build is reported and counted as a failure, but
# does not stop the others from being fuzzed.
listfail=0
if ! go test -list '^Fuzz' $FUZZPKGS >"$list" 2>&1; then
	echo "fuzz: listing targets failed in some packages:" >&2
	grep -E '^(FAIL|#)|: ' "$list" >&2
	listfail=$(grep -c '^FAIL	' "$list")
fi

targets=()
names=()
for line in $(awk '/^Fuzz/ {n = n " " $1} /^ok / {for (i = split(n, a, " "); i > 0; i--) if (a[i] != "") print $2 "|" a[i]; n = ""}' "$list"); do
	pkg=${line%%|*}
	name=${line##*|}
	if [[ $name =~ $FUZZ ]]; then
		targets+=("$pkg")
		names+=("$name")
	fi
done
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets match $FUZZ" >&2
	exit 1
fi
echo "fuzz: ${#targets[@]} targets, $FUZZTIME each" >&2

# save_corpus copies go's cached corpus of target $2 in import path $1
# into the directory $3, within FUZZCORPUSKB; $4 is the package's BENCH tag.
save_corpus() {
	local src dst=$3 used size f b kb
	src=$(go env GOCACHE)/fuzz/$1/$2
	mkdir -p "$dst"
	if [ -d "$src" ]; then
		used=$(du -sk --apparent-size "$dst" | cut -f1)
		while read -r size f; do
			b=$(basename "$f")
			[ -e "$dst/$b" ] && continue
			kb=$(((size + 1023) / 1024))
			[ $((used + kb)) -gt "$FUZZCORPUSKB" ] && break
			cp "$f" "$dst/$b"
			used=$((used + kb))
		done < <(find "$src" -type f -printf '%s %p\n' | sort -n)
	fi
	echo "BENCH fuzz_corpus_${4}_${2} $(find "$dst" -type f | wc -l) inputs"
}

fail=$listfail
flakes=0
for i in "${!targets[@]}"; do
	pkg=${targets[$i]}
	name=${names[$i]}
	rel=./${pkg#"$mod"}
	rel=${rel/#.\/\//./}
	[ "$pkg" = "$mod" ] && rel=.
	tag=$(echo "${pkg#"$mod"/}" | tr '/.-' '___')
	[ "$pkg" = "$mod" ] && tag=root
	corpus="$rel/testdata/fuzz/$name"
	total=0
	rounds=0
	start=$SECONDS
	status=ok
	while :; do
		rounds=$((rounds + 1))
		before=$(ls "$corpus" 2>/dev/null | sort)
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZE" -parallel "$FUZZPARALLEL" "$rel" >"$log" 2>&1
		rc=$?
		after=$(ls "$corpus" 2>/dev/null | sort)
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | awk '{print $2}')
		total=$((total + ${execs:-0}))
		if [ $rc -ne 0 ] && [ "$before" = "$after" ] && grep -q 'context deadline exceeded' "$log"; then
			# Go 1.26's fuzz coordinator can fail a target at the -fuzztime
			# deadline without any crasher (golang/go#75804, fixed in Go
			# 1.27). No input was written, so nothing was found: count it,
			# don't fail.
			echo "fuzz: $rel $name hit the Go fuzz-deadline race (golang/go#75804); no crasher written, not a failure" >&2
			flakes=$((flakes + 1))
		elif [ $rc -ne 0 ]; then
			status=crash
			break
		fi
		if [ "$total" -ge "$MINEXECS" ] || [ "$rounds" -ge "$FUZZROUNDS" ]; then
			break
		fi
	done
	echo "BENCH fuzz_execs_${tag}_${name} ${total} execs"
	echo "BENCH fuzz_seconds_${tag}_${name} $((SECONDS - start)) s"
	if [ "$FUZZSAVE" = 1 ]; then
		save_corpus "$pkg" "$name" "$corpus" "$tag"
	fi
	if [ $status = crash ]; then
		echo "fuzz: $rel $name FAILED (exit $rc); the input is under $rel/testdata/fuzz/$name/:" >&2
		grep -v '^fuzz: elapsed' "$log" | tail -30 >&2
		fail=$((fail + 1))
	elif [ "$total" -lt "$MINEXECS" ]; then
		echo "fuzz: $rel $name ran only $total execs in $rounds rounds (< $MINEXECS)" >&2
		fail=$((fail + 1))
	fi
done
echo "BENCH fuzz_targets ${#targets[@]} targets"
echo "BENCH fuzz_failures ${fail} targets"
echo "BENCH fuzz_deadline_flakes ${flakes} targets"
[ $fail -eq 0 ]
