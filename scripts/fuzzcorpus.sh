#!/usr/bin/env bash
# fuzzcorpus.sh keeps the fuzz corpus in testdata. For each fuzz target
# given as IMPORTPATH|Name (or, with no arguments, every target in the
# module) it copies the inputs that `go test -fuzz` found interesting, which
# go keeps in $GOCACHE/fuzz/<importpath>/<Name>/, into
# <pkg>/testdata/fuzz/<Name>/, where plain `go test` replays them on every
# run and where the next `make fuzz` on a fresh machine starts from. go names
# each input by its hash, so copying is idempotent; an input already there
# is left alone. Inputs are taken smallest first until the target's testdata
# holds FUZZCORPUSKB (default 1024 KiB): go writes []byte inputs as quoted
# strings, so a 6 KB image from reader/qr's FuzzDecode is a 20 KB file, and
# the full cache of that one target would add 13 MB to the repository. The
# rest stays in the cache. It prints, per target,
#
#   BENCH fuzz_corpus_<pkg>_<Name> N inputs
#
# counting what testdata then holds. make fuzz runs it after each target
# (FUZZSAVE=0 turns that off); commit the new inputs with the run.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
cache=$(go env GOCACHE)/fuzz
FUZZCORPUSKB=${FUZZCORPUSKB:-1024}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	list=$(go test -list '^Fuzz' ./... 2>/dev/null | awk '/^Fuzz/ {n = n " " $1} /^ok / {for (i = split(n, a, " "); i > 0; i--) if (a[i] != "") print $2 "|" a[i]; n = ""}')
	read -r -d '' -a targets <<<"$list" || true
fi

for t in "${targets[@]}"; do
	pkg=${t%%|*}
	name=${t##*|}
	rel=${pkg#"$mod"}
	rel=${rel#/}
	[ -z "$rel" ] && rel=.
	tag=$(echo "$rel" | tr '/.-' '___')
	src=$cache/$pkg/$name
	dst=$rel/testdata/fuzz/$name
	if [ -d "$src" ] && [ -n "$(ls -A "$src")" ]; then
		mkdir -p "$dst"
		used=$(du -sk --apparent-size "$dst" | cut -f1)
		# Smallest first, while the target's testdata stays within budget.
		while read -r size f; do
			b=$(basename "$f")
			[ -e "$dst/$b" ] && continue
			kb=$(((size + 1023) / 1024))
			[ $((used + kb)) -gt "$FUZZCORPUSKB" ] && break
			cp "$f" "$dst/$b"
			used=$((used + kb))
		done < <(find "$src" -type f -printf '%s %p\n' | sort -n)
	fi
	n=0
	[ -d "$dst" ] && n=$(find "$dst" -type f | wc -l)
	echo "BENCH fuzz_corpus_${tag}_${name} ${n} inputs"
done
