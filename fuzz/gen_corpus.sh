#!/usr/bin/env bash
# Regenerate the Hessian 2.0 seed corpus (fuzz/corpus/hessian2/): small
# inputs covering every bytecode family, written from hex by hand so the
# seeds do not depend on our own encoder. Run from anywhere; it rewrites
# only the seeds named here (regression seeds added from crashes stay).
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)/corpus/hessian2"
mkdir -p "$dir"

# seed NAME HEX...  (spaces in the hex are ignored)
seed() {
  local name=$1; shift
  local hex
  hex=$(printf '%s' "$*" | tr -d ' \n')
  printf "$(printf '%s' "$hex" | sed 's/\(..\)/\\x\1/g')" >"$dir/$name"
}
# rep HEX N: HEX repeated N times
rep() { local out="" i; for ((i = 0; i < $2; i++)); do out+="$1"; done; printf '%s' "$out"; }

# scalars
seed null            4e
seed bool            54 46
seed int-direct      90 80 bf
seed int-byte        c8 30 c0 00 cf ff
seed int-short       d4 08 00 d0 00 00 d7 ff ff
seed int-full        49 7f ff ff ff 49 80 00 00 00
seed long-direct     e0 d8 ef
seed long-byte       f8 10 f0 00
seed long-short      3c 08 00 38 00 00
seed long-int        59 00 04 00 00 59 80 00 00 00
seed long-full       4c 7f ff ff ff ff ff ff ff 4c 80 00 00 00 00 00 00 00
seed double-compact  5b 5c 5d 80 5e 80 00 5f 00 00 01 f4
seed double-full     44 40 09 21 fb 54 44 2d 18 44 80 00 00 00 00 00 00 00 44 7f f8 00 00 00 00 00 00
seed date-minute     4b 01 b0 55 16
seed date-ms         4a 00 00 01 8b cf e5 68 00

# strings
seed string-direct   00 05 68 65 6c 6c 6f
seed string-short    30 20 "$(rep 61 32)"
seed string-long     53 04 00 "$(rep 62 1024)"
seed string-chunks   52 00 01 61 52 00 02 62 63 30 01 64 53 00 01 65
seed string-utf8     04 63 61 66 c3 a9 01 e2 82 ac 01 00
seed string-cesu8    02 ed a0 bd ed b8 80 52 00 01 ed a0 bd 01 ed b8 80
seed string-lone-surrogate 01 ed a0 80 02 ed b8 80 ed a0 bd
seed string-4byte    02 f0 9f 98 80

# binary
seed binary-direct   20 23 01 02 03
seed binary-short    34 10 "$(rep a5 16)" 37 ff "$(rep 5a 1023)"
seed binary-long     42 04 00 "$(rep 00 1024)"
seed binary-chunks   41 00 01 aa 41 00 00 21 bb 41 00 02 cc dd 34 01 ee

# lists
seed list-direct     78 7a 91 92 7f 90 91 92 93 94 95 96
seed list-fixed      58 98 90 91 92 93 94 95 96 97
seed list-typed      72 04 5b 69 6e 74 90 91 56 04 5b 69 6e 74 98 90 91 92 93 94 95 96 97
seed list-variable   57 91 92 5a 55 01 74 91 5a
seed list-type-ref   7b 70 01 74 71 90 91 55 90 5a
seed list-nested     "$(rep 79 20)" 4e

# maps
seed map-untyped     48 5a 48 01 61 91 01 62 4e 5a
seed map-typed       4d 11 6a 61 76 61 2e 75 74 69 6c 2e 54 72 65 65 4d 61 70 01 6b 01 76 5a
seed map-keys        48 78 91 4e 92 e1 5c 5a

# objects
seed object          43 02 43 31 92 01 61 01 62 60 91 01 78
seed object-twice    7a 43 02 43 31 92 01 61 01 62 60 91 01 78 60 92 4e
seed object-O-index  43 01 43 91 01 61 4f 90 95
seed object-many-classes 58 a2 "$(for k in $(seq 0 17); do
  printf '43 01 %02x 91 01 76 ' $((0x41 + k))
  if ((k <= 15)); then printf '%02x %02x ' $((0x60 + k)) $((0x90 + k));
  else printf '4f %02x %02x ' $((0x90 + k)) $((0x90 + k)); fi
done)"

# references
seed ref-shared      7a 48 5a 51 91
seed ref-self-list   79 51 90
seed ref-self-map    48 51 90 51 90 5a
seed ref-self-object 43 01 4e 91 04 6e 65 78 74 60 51 90
seed ref-dag         7a 7a 78 51 92 51 91

# a stream of several values sharing classes, refs and types
seed stream          43 01 43 91 01 61 60 91 60 92 79 91 51 92 70 01 78 70 90

# a Dubbo request body: version, path, version, method, descriptor, one
# argument (an object), attachments
seed dubbo-request   05 32 2e 30 2e 32 \
  17 63 6f 6d 2e 65 78 61 6d 70 6c 65 2e 44 65 6d 6f 53 65 72 76 69 63 65 \
  05 30 2e 30 2e 30 \
  08 73 61 79 48 65 6c 6c 6f \
  12 4c 6a 61 76 61 2f 6c 61 6e 67 2f 53 74 72 69 6e 67 3b \
  05 77 6f 72 6c 64 \
  48 04 70 61 74 68 17 63 6f 6d 2e 65 78 61 6d 70 6c 65 2e 44 65 6d 6f 53 65 72 76 69 63 65 5a

# malformed inputs worth mutating from
seed bad-truncated   53 00 05 61
seed bad-reserved    7a 91 40
seed bad-ref         79 51 91
seed bad-huge-length 58 49 7f ff ff ff 91

echo "seeds in $dir: $(ls "$dir" | wc -l)"
