# charts.gp - bench/compare.sh's charts: throughput.svg and latency.svg.
#
#   gnuplot -e "data='DIR'; out='DIR2'" bench/charts.gp
#
# DIR holds what `awk -v chart_data=DIR -f bench/results.awk` wrote:
# throughput.dat (size, group, system, msgs/s, MB/s, generator-bound, x),
# latency.dat (group, system, µs, x) and names.gp (the systems' names,
# the groups' tics). Every system is one colour in every panel; a
# generator-bound bar is hatched over, as RESULTS.md marks it with †.

load data.'/names.gp'
tp = data.'/throughput.dat'
lat = data.'/latency.dat'

set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set xrange [0:xmax + 1]
set format y '%g'
set key samplen 1.5 width 1

set terminal svg size 1100,800 dynamic font 'sans,11' background rgb 'white'
set output out.'/throughput.svg'
# The bottom eighth of the page is the key's, shared by the four panels.
set multiplot layout 2,2 title 'Throughput, batch sender (hatched: generator-bound)' \
    margins 0.07,0.98,0.13,0.92 spacing 0.08,0.12

# panel(SIZE, COLUMN, SCALE): one panel's bars, then the hatching over
# the generator-bound ones; the figures divided by SCALE.
panel(size, col, scale) = sprintf("for [i=1:ns] tp using ($1==%d && $3==i ? $7 : NaN):($%d/%g) with boxes lc i title names[i], tp using ($1==%d && $6 > 0 ? $7 : NaN):($%d/%g) with boxes fs pattern 4 transparent lc rgb 'black' title 'generator-bound'", size, col, scale, size, col, scale)

eval tp_xtics
set xtics scale 0

set key at screen 0.5, 0.01 center bottom horizontal maxrows 2
set title '64 B: million messages/s'
eval 'plot '.panel(64, 4, 1e6)
set key off
set title '4 KiB: thousand messages/s'
eval 'plot '.panel(4096, 4, 1e3)
set title '64 B: MB/s of payload'
eval 'plot '.panel(64, 5, 1)
set title '4 KiB: MB/s of payload'
eval 'plot '.panel(4096, 5, 1)
unset multiplot

set terminal svg size 900,420 dynamic font 'sans,11' background rgb 'white'
set output out.'/latency.svg'
set title 'Round trip of a 64 B ping-pong, µs (lower is better)'
set xrange [0:lat_xmax + 1]
set key outside right top vertical maxrows auto
eval lat_xtics
plot for [i=1:ns] lat using ($2==i ? $4 : NaN):3 with boxes lc i title (has_latency[i] ? names[i] : '')
unset output
