package io.enclave.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/** Percentiles of a list of samples. */
final class Stats {
    private final List<Double> samples = new ArrayList<>();

    void add(double v) {
        samples.add(v);
    }

    int size() {
        return samples.size();
    }

    double last() {
        return samples.getLast();
    }

    double percentile(double p) {
        List<Double> sorted = new ArrayList<>(samples);
        Collections.sort(sorted);
        int index = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
    }

    String summary(String unit) {
        return String.format(Locale.ROOT, "n=%d p50=%.1f%s p95=%.1f%s min=%.1f%s max=%.1f%s", samples.size(),
                percentile(50), unit, percentile(95), unit, percentile(0), unit, percentile(100), unit);
    }
}
