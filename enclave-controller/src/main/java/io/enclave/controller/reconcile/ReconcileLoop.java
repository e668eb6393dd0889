package io.enclave.controller.reconcile;

import io.enclave.controller.persistence.Store;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the VM reconcilers: worker threads take VM ids from the {@link WorkQueue}; API writes add ids
 * at once, and a periodic resync adds every VM so that changes on the hosts (a guest that crashed, a
 * QEMU that died) are noticed, and work in flight when the controller stopped is finished.
 */
public final class ReconcileLoop implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ReconcileLoop.class);

    private final WorkQueue queue = new WorkQueue();
    private final VmReconciler reconciler;
    private final Store store;
    private final int workers;
    private final Duration resyncEvery;
    private final List<Thread> threads = new ArrayList<>();
    private final ScheduledExecutorService resync = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "reconcile-resync");
        t.setDaemon(true);
        return t;
    });

    public ReconcileLoop(VmReconciler reconciler, Store store, int workers, Duration resyncEvery) {
        this.reconciler = reconciler;
        this.store = store;
        this.workers = workers;
        this.resyncEvery = resyncEvery;
    }

    public void start() {
        for (int i = 0; i < workers; i++) {
            Thread t = Thread.ofPlatform().name("reconciler-" + i).daemon(true).start(this::work);
            threads.add(t);
        }
        List<String> unfinished = store.jdbi().withHandle(h -> store.vms().unconvergedIds(h));
        if (!unfinished.isEmpty()) log.info("resuming {} VMs with unfinished work", unfinished.size());
        unfinished.forEach(queue::add);
        resync.scheduleWithFixedDelay(this::resyncAll, resyncEvery.toMillis(), resyncEvery.toMillis(), TimeUnit.MILLISECONDS);
    }

    public void enqueue(String vmId) {
        queue.add(vmId);
    }

    /** Ids queued or being reconciled right now. */
    public int pending() {
        return queue.size();
    }

    private void resyncAll() {
        try {
            store.jdbi().withHandle(h -> h.createQuery("SELECT id FROM vms").mapTo(String.class).list()).forEach(queue::add);
        } catch (RuntimeException e) {
            log.error("resync failed: {}", e.getMessage(), e);
        }
    }

    private void work() {
        while (true) {
            String vmId;
            try {
                vmId = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            if (vmId == null) return;
            try {
                Result result = reconciler.reconcile(vmId);
                if (result instanceof Result.RequeueAfter r) queue.addAfter(vmId, r.delay());
            } catch (RuntimeException e) {
                log.error("vm {}: reconcile pass failed: {}", vmId, e.getMessage(), e);
                queue.addAfter(vmId, Duration.ofSeconds(5));
            } finally {
                queue.done(vmId);
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
