#!/usr/bin/env bash
# Draws the side-by-side benchmark results as SVG charts with gnuplot, from
# the tables the benchmark scripts write:
#
#   bench/charts/dubbo.tsv   bench/dubbo/run.sh   our provider vs the canned ceiling
#   bench/charts/triple.tsv  bench/run-triple.sh  our Triple provider vs grpc C++ and grpc-go
#   bench/charts/rest.tsv    bench/run-rest.sh    our REST provider vs nginx (when it writes one)
#
# NAME.tsv becomes NAME.svg next to it: one panel per measure the table has
# (QPS; p99 latency on a log scale; the server's CPU per call), the load
# points along x and one bar per server. The run scripts call this at
# their end; run it alone to redraw from the committed tables without
# rerunning anything:
#
#   bench/plot.sh              # every bench/charts/*.tsv
#   bench/plot.sh triple       # one
#
# A table: '#' comment lines, of which '# title: ...' and '# x: ...' name the
# chart and its x axis, then a tab-separated header with at least load,
# server and qps (optionally p50_us, p99_us, cpu_us_per_call), then one row
# per load and server; loads and servers keep the order they first appear
# in. Needs gnuplot (Debian gnuplot-nox; scripts/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=bench/charts

command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot not installed (apt-get install gnuplot-nox)" >&2; exit 1; }

names=("$@")
if [ ${#names[@]} = 0 ]; then
    for f in "$DIR"/*.tsv; do
        [ -e "$f" ] && names+=("$(basename "$f" .tsv)")
    done
fi
[ ${#names[@]} -gt 0 ] || { echo "plot.sh: no tables in $DIR" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# wide TABLE METRIC: the load x server matrix of one column ("-": no value),
# a header row of server names first.
wide() {
    awk -F'\t' -v metric="$2" '
        /^#/ || NF == 0 { next }
        !hdr { for (i = 1; i <= NF; i++) col[$i] = i; hdr = 1; next }
        {
            l = $col["load"]; s = $col["server"]
            if (!(l in L)) { L[l] = 1; lo[++nl] = l }
            if (!(s in S)) { S[s] = 1; so[++ns] = s }
            v[l, s] = $col[metric]
        }
        END {
            printf "load"
            for (j = 1; j <= ns; j++) printf "\t%s", so[j]
            print ""
            for (i = 1; i <= nl; i++) {
                printf "%s", lo[i]
                for (j = 1; j <= ns; j++) printf "\t%s", ((lo[i], so[j]) in v && v[lo[i], so[j]] != "") ? v[lo[i], so[j]] : "-"
                print ""
            }
        }' "$1"
}

for name in "${names[@]}"; do
    tsv=$DIR/$name.tsv
    svg=$DIR/$name.svg
    [ -f "$tsv" ] || { echo "plot.sh: no $tsv" >&2; exit 1; }
    title=$(sed -n 's/^# title: *//p' "$tsv" | head -1)
    xlabel=$(sed -n 's/^# x: *//p' "$tsv" | head -1)
    header=$(grep -v '^#' "$tsv" | head -1)
    # the panels this table has data for: column, heading, scale
    panels=()
    for m in qps p99_us cpu_us_per_call; do
        tr '\t' '\n' <<<"$header" | grep -qx "$m" && panels+=("$m")
    done
    case " ${panels[*]} " in *" qps "*) ;; *) echo "plot.sh: $tsv has no qps column" >&2; exit 1 ;; esac
    nserv=$(wide "$tsv" qps | head -1 | awk -F'\t' '{ print NF - 1 }')
    # ours (server names ours*) in warm colours, the others cool and grey;
    # a server has its colour in every panel, and the key is in the first
    colours=$(wide "$tsv" qps | head -1 | tr '\t' '\n' | tail -n +2 | awk '
        BEGIN { nw = split("#d62728 #ff7f0e #e6ab02 #8c564b", warm, " ")
                nc = split("#1f77b4 #17becf #7f7f7f #2ca02c #9467bd #bcbd22", cool, " ") }
        { if ($0 ~ /^ours/) c = warm[(w++ % nw) + 1]; else c = cool[(k++ % nc) + 1]
          printf "%s\"%s\"", (NR > 1 ? ", " : ""), c }')
    {
        echo "set terminal svg size $((460 * ${#panels[@]})),440 dynamic font 'sans,11' background '#ffffff'"
        echo "set output '$svg'"
        echo "set datafile separator '\t'"
        echo "set datafile missing '-'"
        echo "set style data histograms"
        echo "set style histogram clustered gap 1"
        echo "set style fill solid 0.85 border -1"
        echo "set boxwidth 0.9"
        echo "set key top left noenhanced font ',9' samplen 1.5 opaque"
        echo "set grid ytics lc rgb '#dddddd'"
        echo "set xlabel '$xlabel' noenhanced"
        echo "set format y '%.0s%c'"
        echo "array C[$nserv] = [$colours]"
        echo "set multiplot layout 1,${#panels[@]} title '$title' noenhanced font ',13'"
        for m in "${panels[@]}"; do
            wide "$tsv" "$m" >"$tmp/$name.$m.tsv"
            case $m in
            qps) echo "set title 'QPS (higher is better)'"; echo "unset logscale y"; echo "set yrange [0:*]" ;;
            p99_us) echo "set title 'p99 latency, µs (lower is better; log scale)'"; echo "set logscale y"; echo "set yrange [*:*]" ;;
            cpu_us_per_call) echo "set title 'server CPU per call, µs (lower is better)'"; echo "unset logscale y"; echo "set yrange [0:*]" ;;
            esac
            echo "plot for [i=2:$((nserv + 1))] '$tmp/$name.$m.tsv' using i:xtic(1) title columnheader(i) lc rgb C[i - 1]"
            echo "unset key"
        done
        echo "unset multiplot"
    } >"$tmp/$name.gp"
    gnuplot "$tmp/$name.gp"
    echo "plot.sh: $svg" >&2
done
