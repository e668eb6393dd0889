package io.enclave.controller;

import io.enclave.controller.api.ApiServer;
import io.enclave.controller.auth.Authenticator;
import io.enclave.controller.hosts.HighAvailability;
import io.enclave.controller.hosts.HostService;
import io.enclave.controller.hosts.Maintenance;
import io.enclave.controller.hosts.MigrationService;
import io.enclave.controller.reconcile.RuntimeSpecs;
import io.enclave.controller.persistence.Database;
import io.enclave.controller.persistence.Store;
import io.enclave.controller.reconcile.NetworkReconciler;
import io.enclave.controller.reconcile.OrphanSweeper;
import io.enclave.controller.reconcile.ReconcileLoop;
import io.enclave.controller.reconcile.VmReconciler;
import io.enclave.controller.scheduler.HostRegistry;
import io.enclave.controller.scheduler.Scheduler;
import io.enclave.controller.service.ImageService;
import io.enclave.controller.service.NetworkService;
import io.enclave.controller.service.StorageService;
import io.enclave.controller.service.TenantService;
import io.enclave.controller.service.VmService;
import io.enclave.controller.service.VolumeService;
import io.enclave.core.host.HostAgent;
import io.enclave.core.image.ImageProvider;
import io.enclave.core.vm.VmLifecycle;
import io.enclave.tls.TlsIdentity;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The controller: state in the database, the API, the scheduler and the reconcilers, wired together. */
public final class Controller implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Controller.class);

    /** Tunables; the defaults suit one host with real guests. */
    public record Settings(String listenHost, int port, int reconcileWorkers, Duration resyncEvery,
            Duration guestReadyTimeout, double cpuOvercommit, double memoryOvercommit, String joinToken,
            Duration hostDeadAfter, Duration fenceWait, TlsIdentity tlsIdentity, boolean apiTls) {
        public static Settings defaults(int port) {
            return new Settings("127.0.0.1", port, 4, Duration.ofSeconds(5), Duration.ofMinutes(5), 16.0, 1.5, null,
                    Duration.ofSeconds(10), Duration.ofSeconds(10), null, false);
        }

        public Settings withResyncEvery(Duration d) {
            return new Settings(listenHost, port, reconcileWorkers, d, guestReadyTimeout, cpuOvercommit, memoryOvercommit,
                    joinToken, hostDeadAfter, fenceWait, tlsIdentity, apiTls);
        }

        /**
         * The controller's TLS identity (kept in its data directory, not the database): presented to agents as
         * client certificate. Null: a fresh one for this process only (agents joined to it refuse the next).
         */
        public Settings withTlsIdentity(TlsIdentity identity) {
            return new Settings(listenHost, port, reconcileWorkers, resyncEvery, guestReadyTimeout, cpuOvercommit,
                    memoryOvercommit, joinToken, hostDeadAfter, fenceWait, identity, apiTls);
        }

        /**
         * Remote agents may join with this token (null: only the in-process host); a silent host is declared
         * down after {@code deadAfter}, and its HA VMs restart elsewhere {@code fenceWait} later.
         */
        public Settings withJoinToken(String token, Duration deadAfter, Duration fenceWait) {
            return new Settings(listenHost, port, reconcileWorkers, resyncEvery, guestReadyTimeout, cpuOvercommit,
                    memoryOvercommit, token, deadAfter, fenceWait, tlsIdentity, apiTls);
        }

        /** The public API over HTTPS only, presenting the controller's TLS identity (off: plain HTTP). */
        public Settings withApiTls(boolean on) {
            return new Settings(listenHost, port, reconcileWorkers, resyncEvery, guestReadyTimeout, cpuOvercommit,
                    memoryOvercommit, joinToken, hostDeadAfter, fenceWait, tlsIdentity, on);
        }
    }

    private final Database database;
    private final Store store;
    private final HostRegistry hosts = new HostRegistry();
    private final TenantService tenants;
    private final VmService vms;
    private final ImageService images;
    private final ReconcileLoop loop;
    private final NetworkService networks;
    private final StorageService storage;
    private final ReconcileLoop networkLoop;
    private final OrphanSweeper sweeper;
    private final ApiServer api;
    private final HostService hostService;
    private final VolumeService volumes;
    private final MigrationService migrations;
    private final HighAvailability highAvailability;
    private final Maintenance maintenance;
    private final java.util.Set<String> localHosts = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final Settings settings;
    private final ScheduledExecutorService housekeeping = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "controller-housekeeping");
        t.setDaemon(true);
        return t;
    });
    /** Its own thread: a host that hangs a call must not delay noticing that other hosts died. */
    private final ScheduledExecutorService hostWatch = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "controller-host-watch");
        t.setDaemon(true);
        return t;
    });
    private final java.util.Set<String> sweeping = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private int port;
    private final TlsIdentity tlsIdentity;

    public Controller(Database database, ImageProvider imageProvider, Settings settings) {
        this.tlsIdentity = settings.tlsIdentity() != null ? settings.tlsIdentity()
                : TlsIdentity.generate("enclave-controller", java.util.List.of(), Duration.ofDays(3650));
        // Microseconds: what both H2 and PostgreSQL store, so an answer and a later read agree.
        Clock clock = Clock.tick(Clock.systemUTC(), Duration.ofNanos(1000));
        this.database = database;
        this.settings = settings;
        this.store = Store.over(database.jdbi());
        this.tenants = new TenantService(store, clock, this::reconcileTenantNetworkSoon);
        this.images = new ImageService(store, imageProvider, clock);
        this.networks = new NetworkService(store, this::reconcileTenantNetworkSoon, clock);
        NetworkReconciler networkReconciler = new NetworkReconciler(store, hosts, networks,
                this::incomingHosts);
        this.networkLoop = new ReconcileLoop("tenant-network", networkReconciler::reconcile,
                () -> store.jdbi().withHandle(h -> store.firewalls().tenantsWithFirewall(h)),
                () -> store.jdbi().withHandle(h -> store.firewalls().tenantsWithFirewall(h)), 1,
                settings.resyncEvery().multipliedBy(6));
        this.storage = new StorageService(store, hosts, clock);
        this.volumes = new VolumeService(store, storage, clock);
        VmReconciler reconciler = new VmReconciler(store, hosts, new VmLifecycle(settings.guestReadyTimeout()), clock,
                networkReconciler::forHost, networkLoop::enqueue, volumes::plugBackIn, this::migrating);
        this.loop = new ReconcileLoop("vm", reconciler::reconcile,
                () -> store.jdbi().withHandle(h -> store.vms().unconvergedIds(h)),
                () -> store.jdbi().withHandle(h -> h.createQuery("SELECT id FROM vms").mapTo(String.class).list()),
                settings.reconcileWorkers(), settings.resyncEvery());
        Scheduler scheduler = new Scheduler(settings.cpuOvercommit(), settings.memoryOvercommit());
        this.vms = new VmService(store, scheduler, hosts, loop::enqueue, clock, networks, networkLoop::enqueue, storage);
        this.migrations = new MigrationService(store, hosts, scheduler, new RuntimeSpecs(store, networkReconciler::forHost),
                storage, networkReconciler::reconcile, loop::enqueue, networkLoop::enqueue, clock);
        this.sweeper = new OrphanSweeper(store, this::migrating);
        this.highAvailability = new HighAvailability(store, scheduler, clock, settings.fenceWait(), housekeeping,
                loop::enqueue, networkLoop::enqueue);
        this.maintenance = new Maintenance(store, migrations, scheduler);
        this.hostService = new HostService(store, hosts, clock, settings.joinToken(), settings.hostDeadAfter(),
                highAvailability::hostDown, tlsIdentity);
        this.api = new ApiServer(store, new Authenticator(store.jdbi(), store.tokens()), tenants, vms, images, networks,
                hosts, storage, volumes, hostService, maintenance, migrations);
    }

    /** Makes a host's agent known; its capacity is recorded and refreshed by heartbeat. */
    public void addHost(HostAgent agent) {
        addHost(agent, null, null, null);
    }

    /** The in-process host, with its underlay address and shared storage (each may be null). */
    public void addHost(HostAgent agent, String underlayAddress, String sharedStorage, String sharedStoragePath) {
        hosts.register(agent);
        localHosts.add(agent.info().id());
        java.time.Instant now = java.time.Instant.now();
        store.jdbi().useTransaction(h -> {
            var existing = store.hosts().find(h, agent.info().id());
            store.hosts().upsert(h, new io.enclave.controller.persistence.HostRepository.HostRow(agent.info(), "up", now,
                    null, null, null, underlayAddress, sharedStorage, sharedStoragePath,
                    existing.map(e -> e.maintenance()).orElse("none"), existing.map(e -> e.fenced()).orElse(false)), now);
        });
    }

    public void start() {
        images.syncFromLibrary();
        hostService.reconnectAll();
        migrations.settleOpen();
        volumes.failInterruptedResyncs();
        for (HostAgent agent : hosts.all()) {
            try {
                sweeper.sweep(agent);
            } catch (RuntimeException e) {
                log.error("host {}: sweep at start failed: {}", agent.info().id(), e.getMessage());
            }
        }
        maintenance.resumeDrains();
        networkLoop.start();
        loop.start();
        housekeeping.scheduleWithFixedDelay(this::housekeeping, 10, 10, TimeUnit.SECONDS);
        hostWatch.scheduleWithFixedDelay(this::watchHosts, 1, 1, TimeUnit.SECONDS);
        port = api.start(settings.listenHost(), settings.port(), settings.apiTls() ? tlsIdentity : null);
        log.info("controller listening on {}://{}:{}/v1{}", settings.apiTls() ? "https" : "http", settings.listenHost(), port,
                settings.apiTls() ? " (certificate sha256 " + tlsIdentity.fingerprint() + ")" : "");
    }

    /** The in-process host beats here; remote hosts beat by calling the API, and are declared dead when silent. */
    private void watchHosts() {
        try {
            // The in-process hosts live exactly as long as this process: one statement beats for all of them.
            if (!localHosts.isEmpty()) {
                store.jdbi().useTransaction(h -> store.hosts().heartbeatAll(h, localHosts, java.time.Instant.now()));
            }
            hostService.checkHeartbeats();
        } catch (RuntimeException e) {
            log.error("watching hosts failed: {}", e.getMessage(), e);
        }
    }

    // Through methods: the reconcilers are built before the migration service they consult.
    private boolean migrating(String vmId) {
        return migrations.busy(vmId);
    }

    private java.util.Set<String> incomingHosts(String tenantId) {
        return migrations.incomingHosts(tenantId);
    }

    private void housekeeping() {
        for (var row : hostService.list()) {
            if (!"up".equals(row.status())) continue;
            HostAgent agent = hosts.get(row.id()).orElse(null);
            // One virtual thread per host, at most one sweep per host at a time: a slow host delays only itself.
            if (agent == null || !sweeping.add(row.id())) continue;
            Thread.ofVirtual().name("sweep-" + row.id()).start(() -> {
                try {
                    sweeper.sweep(agent);
                    if (row.fenced() && sweeper.holdsOnlyItsOwn(agent)) {
                        // It came back after its HA VMs were restarted elsewhere; the sweep released them here.
                        store.jdbi().useTransaction(h -> store.hosts().setFenced(h, row.id(), false));
                        log.info("host {}: back after being fenced; what it still held is released, it takes VMs again", row.id());
                    }
                } catch (RuntimeException e) {
                    log.error("host {}: housekeeping failed: {}", row.id(), e.getMessage());
                } finally {
                    sweeping.remove(row.id());
                }
            });
        }
        migrations.settleOpen();
        try {
            // A device that failed degrades its volumes without anyone having to look.
            storage.refresh();
        } catch (RuntimeException e) {
            log.error("storage probe failed: {}", e.getMessage(), e);
        }
    }

    private void heartbeat(HostAgent agent) {
        store.jdbi().useTransaction(h -> store.hosts().upsert(h, agent.info(), "up", java.time.Instant.now()));
    }

    private void reconcileTenantNetworkSoon(String tenantId) {
        networkLoop.enqueue(tenantId);
    }

    /** The controller's TLS identity: presented to agents, and on the API when it serves HTTPS. */
    public TlsIdentity tlsIdentity() {
        return tlsIdentity;
    }

    public int port() {
        return port;
    }

    public Store store() {
        return store;
    }

    public TenantService tenants() {
        return tenants;
    }

    public ApiServer api() {
        return api;
    }

    public ReconcileLoop loop() {
        return loop;
    }

    @Override
    public void close() {
        migrations.close();
        api.close();
        maintenance.close();
        housekeeping.shutdownNow();
        hostWatch.shutdownNow();
        loop.close();
        networkLoop.close();
        database.close();
    }
}
