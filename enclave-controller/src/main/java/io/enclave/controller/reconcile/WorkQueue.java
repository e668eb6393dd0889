package io.enclave.controller.reconcile;

import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Keys waiting to be reconciled, as in controller-runtime: a key is queued at most once, and a key
 * being processed is never handed to a second worker; if it is added meanwhile, it is queued again
 * when the first worker is done. So reconcilers need no locks of their own.
 */
public final class WorkQueue implements AutoCloseable {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition available = lock.newCondition();
    private final LinkedHashSet<String> queued = new LinkedHashSet<>();
    private final Set<String> processing = new HashSet<>();
    private final Set<String> dirty = new HashSet<>();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "workqueue-timer");
        t.setDaemon(true);
        return t;
    });
    private boolean closed;

    public void add(String key) {
        lock.lock();
        try {
            if (closed) return;
            if (processing.contains(key)) {
                dirty.add(key);
            } else if (queued.add(key)) {
                available.signal();
            }
        } finally {
            lock.unlock();
        }
    }

    public void addAfter(String key, Duration delay) {
        if (delay.isZero() || delay.isNegative()) {
            add(key);
        } else if (!timer.isShutdown()) {
            timer.schedule(() -> add(key), delay.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /** Blocks until a key is available; returns null once the queue is closed. */
    public String take() throws InterruptedException {
        lock.lock();
        try {
            while (queued.isEmpty() && !closed) available.await();
            if (closed) return null;
            var it = queued.iterator();
            String key = it.next();
            it.remove();
            processing.add(key);
            return key;
        } finally {
            lock.unlock();
        }
    }

    public void done(String key) {
        lock.lock();
        try {
            processing.remove(key);
            if (dirty.remove(key) && queued.add(key)) available.signal();
        } finally {
            lock.unlock();
        }
    }

    public int size() {
        lock.lock();
        try {
            return queued.size() + processing.size();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            available.signalAll();
        } finally {
            lock.unlock();
        }
        timer.shutdownNow();
    }
}
