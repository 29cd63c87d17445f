# charts.gp - bench/compare.sh's charts: throughput.svg and latency.svg.
#
#   gnuplot -e "data='DIR'; out='DIR2'" bench/charts.gp
#
# DIR holds what `awk -v chart_data=DIR -f bench/results.awk` wrote:
# throughput.dat (size, group, system, msgs/s, MB/s, generator-bound, x),
# latency.dat (group, system, µs, x) and names.gp (the systems' names
# and colours, which have a latency figure, the groups' tics). Every
# system has one colour in both charts, the same in every run; a
# generator-bound bar is hatched over and topped with the † that marks
# it in RESULTS.md.

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

set terminal svg size 1100,820 dynamic font 'sans,11' background rgb 'white'
set output out.'/throughput.svg'
set multiplot title 'Throughput (hatched, †: generator-bound)'

# panel(SIZE, COLUMN, SCALE): one panel's bars, the figures divided by
# SCALE, then over the generator-bound ones hatching and a dagger (the
# dagger for viewers that draw no SVG patterns).
panel(size, col, scale) = sprintf("for [i=1:ns] tp using ($1==%d && $3==i ? $7 : NaN):($%d/%g) with boxes lc rgb colours[i], tp using ($1==%d && $6 > 0 ? $7 : NaN):($%d/%g) with boxes fs pattern 4 transparent lc rgb 'black', tp using ($1==%d && $6 > 0 ? $7 : NaN):($%d/%g):('†') with labels offset 0,0.7", size, col, scale, size, col, scale, size, col, scale)

eval tp_xtics
set xtics scale 0
set key off
set lmargin 8
set rmargin 2
# Four panels above, the key they share in a strip below them.
set size 0.5, 0.43
set origin 0, 0.53
set title '64 B: million messages/s'
eval 'plot '.panel(64, 4, 1e6)
set origin 0.5, 0.53
set title '4 KiB: thousand messages/s'
eval 'plot '.panel(4096, 4, 1e3)
set origin 0, 0.09
set title '64 B: MB/s of payload'
eval 'plot '.panel(64, 5, 1)
set origin 0.5, 0.09
set title '4 KiB: MB/s of payload'
eval 'plot '.panel(4096, 5, 1)

set origin 0, 0
set size 1, 0.09
unset title
unset border
unset tics
unset grid
set xrange [0:1]
set yrange [0:1]
set key center center horizontal maxrows 2
plot for [i=1:ns] NaN with boxes lc rgb colours[i] title names[i], \
     NaN with boxes fs pattern 4 transparent lc rgb 'black' title 'generator-bound (†)'
unset multiplot
set border
set tics
set grid ytics
set lmargin
set rmargin
set size 1, 1
set origin 0, 0

set terminal svg size 900,420 dynamic font 'sans,11' background rgb 'white'
set output out.'/latency.svg'
set title 'Round trip of a 64 B ping-pong, µs, log scale (lower is better)'
set xrange [0:lat_xmax + 1]
# p99.9 can be a hundred times p50 on a busy machine.
set logscale y
set grid ytics mytics
set yrange [*:*]
set key outside right top vertical maxrows auto
eval lat_xtics
plot for [i=1:ns] lat using ($2==i ? $4 : NaN):3 with boxes lc rgb colours[i] title (has_latency[i] ? names[i] : '')
unset output
