package io.enclave.controller.reconcile;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one kind of reconciler (VMs, tenant networks): worker threads take keys from the
 * {@link WorkQueue}; API writes add keys at once, and a periodic resync adds every key so that changes
 * on the hosts (a guest that crashed, a QEMU that died) are noticed, and work in flight when the
 * controller stopped is finished.
 */
public final class ReconcileLoop implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ReconcileLoop.class);

    private final WorkQueue queue = new WorkQueue();
    private final String kind;
    private final Function<String, Result> reconciler;
    private final Supplier<List<String>> unfinishedKeys;
    private final Supplier<List<String>> allKeys;
    private final int workers;
    private final Duration resyncEvery;
    private final List<Thread> threads = new ArrayList<>();
    private final ScheduledExecutorService resync = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "reconcile-resync");
        t.setDaemon(true);
        return t;
    });

    public ReconcileLoop(String kind, Function<String, Result> reconciler, Supplier<List<String>> unfinishedKeys,
            Supplier<List<String>> allKeys, int workers, Duration resyncEvery) {
        this.kind = kind;
        this.reconciler = reconciler;
        this.unfinishedKeys = unfinishedKeys;
        this.allKeys = allKeys;
        this.workers = workers;
        this.resyncEvery = resyncEvery;
    }

    public void start() {
        for (int i = 0; i < workers; i++) {
            Thread t = Thread.ofPlatform().name(kind + "-reconciler-" + i).daemon(true).start(this::work);
            threads.add(t);
        }
        List<String> unfinished = unfinishedKeys.get();
        if (!unfinished.isEmpty()) log.info("resuming {} {} with unfinished work", unfinished.size(), kind);
        unfinished.forEach(queue::add);
        resync.scheduleWithFixedDelay(this::resyncAll, resyncEvery.toMillis(), resyncEvery.toMillis(), TimeUnit.MILLISECONDS);
    }

    public void enqueue(String key) {
        queue.add(key);
    }

    /** Ids queued or being reconciled right now. */
    public int pending() {
        return queue.size();
    }

    private void resyncAll() {
        try {
            allKeys.get().forEach(queue::add);
        } catch (RuntimeException e) {
            log.error("{} resync failed: {}", kind, e.getMessage(), e);
        }
    }

    private void work() {
        while (true) {
            String key;
            try {
                key = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            if (key == null) return;
            try {
                Result result = reconciler.apply(key);
                if (result instanceof Result.RequeueAfter r) queue.addAfter(key, r.delay());
            } catch (RuntimeException e) {
                log.error("{} {}: reconcile pass failed: {}", kind, key, e.getMessage(), e);
                queue.addAfter(key, Duration.ofSeconds(5));
            } finally {
                queue.done(key);
            }
        }
    }

    @Override
    public void close() {
        resync.shutdownNow();
        queue.close();
        for (Thread t : threads) {
            try {
                t.join(Duration.ofSeconds(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
