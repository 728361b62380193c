# report.awk - the benchmark's markdown tables from its raw figures: median (min-max) per system, ratios to plain routing and to the best peer.
#
# Input: lines "SYSTEM<TAB>FIGURE<TAB>VALUE<TAB>BUSY", one per measurement, BUSY 1 when the
# machine was busy with other work meanwhile: a system's busy values are used only when it
# has no quiet ones, and such a cell is marked with †. Variables (awk -v):
# systems  the systems in column order, space-separated, "plain" and "keyhole" among them
# labels   SYSTEM=Label pairs for the column heads, separated by "|"
# Every system other than plain and keyhole is a peer that keyhole is held against.

BEGIN {
	FS = "\t"
	nsys = split(systems, sys, " ")
	nl = split(labels, lab, "|")
	for (i = 1; i <= nl; i++) {
		eq = index(lab[i], "=")
		head[substr(lab[i], 1, eq - 1)] = substr(lab[i], eq + 1)
	}
	# figure, its row title, whether more is better, printf format of its values.
	nfig = 0
	fig[++nfig] = "tcp1";     title[nfig] = "TCP, 1 stream (Mbit/s) ↑";                 up[nfig] = 1; fmt[nfig] = "%.0f"
	fig[++nfig] = "tcp4";     title[nfig] = "TCP, 4 streams (Mbit/s) ↑";                up[nfig] = 1; fmt[nfig] = "%.0f"
	fig[++nfig] = "udp_kpps"; title[nfig] = "UDP 64 B, delivered (kpackets/s) ↑";       up[nfig] = 1; fmt[nfig] = "%.1f"
	fig[++nfig] = "udp_loss"; title[nfig] = "UDP 64 B, loss at full offered load (%) ↓"; up[nfig] = 0; fmt[nfig] = "%.1f"
	fig[++nfig] = "ping_med"; title[nfig] = "ping round trip, median (ms) ↓";           up[nfig] = 0; fmt[nfig] = "%.3f"
	fig[++nfig] = "ping_p99"; title[nfig] = "ping round trip, p99 (ms) ↓";              up[nfig] = 0; fmt[nfig] = "%.3f"
	fig[++nfig] = "cpu_gb";   title[nfig] = "CPU of the tunnel processes (s per GB) ↓";  up[nfig] = 0; fmt[nfig] = "%.2f"
	fig[++nfig] = "relay_gb"; title[nfig] = "… of which the relay side (s per GB) ↓";    up[nfig] = 0; fmt[nfig] = "%.2f"
	fig[++nfig] = "all_gb";   title[nfig] = "CPU of all the work (s per GB) ↓";          up[nfig] = 0; fmt[nfig] = "%.2f"
	fig[++nfig] = "rss_idle_mib"; title[nfig] = "relay-side resident memory, idle (MiB) ↓"; up[nfig] = 0; fmt[nfig] = "%.1f"
	fig[++nfig] = "rss_mib";  title[nfig] = "relay-side resident memory, after the runs (MiB) ↓"; up[nfig] = 0; fmt[nfig] = "%.1f"
}

{
	n[$1, $2]++
	v[$1, $2, n[$1, $2]] = $3 + 0
	if (!$4) {
		nq[$1, $2]++
		vq[$1, $2, nq[$1, $2]] = $3 + 0
	}
}

# median, min and max of one system's figure, into med[], lo[], hi[] (sorted by insertion);
# from the quiet measurements when there are any.
function summarize(s, f,    k, i, j, t, a) {
	k = nq[s, f]
	if (k) {
		for (i = 1; i <= k; i++)
			a[i] = vq[s, f, i]
	} else {
		k = n[s, f]
		if (!k)
			return
		for (i = 1; i <= k; i++)
			a[i] = v[s, f, i]
		dagger[s, f] = "†"
	}
	cnt[s, f] = k
	for (i = 2; i <= k; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	med[s, f] = k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	lo[s, f] = a[1]
	hi[s, f] = a[k]
	have[s, f] = 1
}

function cell(s, i,    f) {
	f = fig[i]
	if (!have[s, f])
		return "–"
	if (cnt[s, f] == 1)
		return sprintf(fmt[i], med[s, f]) dagger[s, f]
	return sprintf(fmt[i] " (" fmt[i] "–" fmt[i] ")", med[s, f], lo[s, f], hi[s, f]) dagger[s, f]
}

# Two significant digits at least: throughput ratios to plain routing are hundredths.
function ratio(a, b,    r) {
	if (a == "" || b == "" || b == 0)
		return "–"
	r = a / b
	return sprintf(r < 0.1 ? "%.3f" : "%.2f", r)
}

END {
	for (i = 1; i <= nfig; i++)
		for (c = 1; c <= nsys; c++)
			summarize(sys[c], fig[i])

	print "Median of the quiet repetitions, (min–max) when there were several; † only busy ones."
	print "↑ more is better, ↓ less is better."
	print ""
	line = "| figure |"
	rule = "|---|"
	for (c = 1; c <= nsys; c++) {
		line = line " " head[sys[c]] " |"
		rule = rule "---:|"
	}
	print line
	print rule
	for (i = 1; i <= nfig; i++) {
		line = "| " title[i] " |"
		for (c = 1; c <= nsys; c++)
			line = line " " cell(sys[c], i) " |"
		print line
	}

	print ""
	print "Ratios of the medians: each system ÷ plain routing, and keyhole ÷ the best peer on that figure"
	print "(for ↑ figures a keyhole ratio above 1 is better than that peer, for ↓ figures below 1 is better)."
	print ""
	line = "| figure |"
	rule = "|---|"
	for (c = 1; c <= nsys; c++)
		if (sys[c] != "plain") {
			line = line " " head[sys[c]] " ÷ plain |"
			rule = rule "---:|"
		}
	print line " keyhole ÷ best peer |"
	print rule "---|"
	for (i = 1; i <= nfig; i++) {
		f = fig[i]
		# A ratio of loss percentages says nothing.
		if (f == "udp_loss")
			continue
		line = "| " title[i] " |"
		for (c = 1; c <= nsys; c++)
			if (sys[c] != "plain")
				line = line " " (have[sys[c], f] && have["plain", f] ? \
					ratio(med[sys[c], f], med["plain", f]) : "–") " |"
		best = ""
		for (c = 1; c <= nsys; c++) {
			s = sys[c]
			if (s == "plain" || s == "keyhole" || !have[s, f])
				continue
			if (best == "" || (up[i] ? med[s, f] > med[best, f] : med[s, f] < med[best, f]))
				best = s
		}
		if (best != "" && have["keyhole", f])
			line = line " " ratio(med["keyhole", f], med[best, f]) " (" head[best] ") |"
		else
			line = line " – |"
		print line
	}
}
