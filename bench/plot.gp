# bench/plot.gp: the chart of the end-to-end runs (bench/e2e.sh), drawn by bench/report.sh:
#   gnuplot -e "out='latest.png'; s10='series/e2e10.tsv'; s50='series/e2e50.tsv'; s90='series/e2e90.tsv'" bench/plot.gp
# Series columns: second since the start, orders committed in that second, their delay p50 and
# p99 (ms), pipeline backlog (orders), unpublished outbox rows.
set terminal pngcairo size 1000,900 font "sans,10"
set output out
set datafile separator "\t"
set datafile missing "NaN"
set key top right
set grid
set xlabel "seconds since the start of the run"
# one colour per load in every panel
c10 = "#7b2cbf"; c50 = "#2a9d8f"; c90 = "#e76f51"
set multiplot layout 3,1 title "End to end at 10%, 50% and 90% of the peak command rate"

set title "Throughput: orders committed per second"
set ylabel "orders/s"
set yrange [0:*]
plot s10 using 1:2 with lines lw 2 lc rgb c10 title "10% of peak", \
     s50 using 1:2 with lines lw 2 lc rgb c50 title "50% of peak", \
     s90 using 1:2 with lines lw 2 lc rgb c90 title "90% of peak"

set title "End-to-end delay, commit to read model (per second of commit)"
set ylabel "ms"
set logscale y
set yrange [*:*]
plot s10 using 1:3 with lines lw 2 lc rgb c10 title "10%: p50", \
     s10 using 1:4 with lines lw 1 dt 2 lc rgb c10 title "10%: p99", \
     s50 using 1:3 with lines lw 2 lc rgb c50 title "50%: p50", \
     s50 using 1:4 with lines lw 1 dt 2 lc rgb c50 title "50%: p99", \
     s90 using 1:3 with lines lw 2 lc rgb c90 title "90%: p50", \
     s90 using 1:4 with lines lw 1 dt 2 lc rgb c90 title "90%: p99"
unset logscale y

set title "Backlog: most orders committed but not yet in the read model, and unpublished outbox rows"
set ylabel "orders"
set yrange [0:*]
plot s50 using 1:5 with linespoints pt 7 ps 0.4 lc rgb c50 title "50%: not yet in the read model", \
     s90 using 1:5 with linespoints pt 7 ps 0.4 lc rgb c90 title "90%: not yet in the read model", \
     s50 using 1:6 with lines dt 2 lc rgb c50 title "50%: unpublished outbox rows (sampled)", \
     s90 using 1:6 with lines dt 2 lc rgb c90 title "90%: unpublished outbox rows (sampled)"

unset multiplot
