package io.enclave.controller.hosts;

import io.enclave.core.error.EnclaveException;
import io.enclave.core.host.HostAgent;
import io.enclave.core.host.HostInfo;
import io.enclave.tls.PinnedTls;
import io.enclave.tls.TlsIdentity;
import java.io.IOException;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.security.cert.X509Certificate;
import java.time.Duration;

/**
 * A {@link HostAgent} on another machine, reached over HTTPS with mutual TLS (see {@link AgentWire}): the
 * controller accepts only the certificate the agent joined with and presents its own, the only client
 * certificate the agent accepts. {@code info()} answers from what the agent reported when it joined; every
 * other call goes to the agent.
 */
public final class RemoteHostAgent implements InvocationHandler {
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(3);
    /** Reads and quick changes: a host that does not answer in this time is treated as unreachable. */
    private static final Duration QUICK_CALL = Duration.ofSeconds(30);
    /** Calls that do real work on the host (start QEMU, boot a firewall appliance, copy a disk). */
    private static final Duration SLOW_CALL = Duration.ofMinutes(10);
    private static final java.util.Set<String> SLOW = java.util.Set.of("createDisk", "start", "applyNetworking",
            "removeNetworking", "destroy", "release", "createVolume", "growVolume", "deleteVolume", "attachVolume",
            "detachVolume", "createSnapshot", "revertSnapshot", "deleteSnapshot", "resyncDetached", "startResync",
            "completeResync", "registerDevice", "prepareIncoming", "startMigration", "completeIncoming", "abortIncoming");

    private final HostInfo info;
    private final URI base;
    private final HttpClient http;

    private RemoteHostAgent(HostInfo info, URI base, X509Certificate agentCertificate, TlsIdentity controller) {
        this.info = info;
        this.base = base;
        this.http = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT).version(HttpClient.Version.HTTP_1_1)
                .sslContext(PinnedTls.client(controller, agentCertificate)).build();
    }

    /**
     * @param agentUrl         the agent's https:// address
     * @param agentCertificate the only certificate accepted from the agent
     * @param controller       the controller's identity, presented to the agent as client certificate
     */
    public static HostAgent connect(HostInfo info, String agentUrl, X509Certificate agentCertificate, TlsIdentity controller) {
        return (HostAgent) Proxy.newProxyInstance(HostAgent.class.getClassLoader(), new Class<?>[] {HostAgent.class},
                new RemoteHostAgent(info, URI.create(agentUrl.endsWith("/") ? agentUrl : agentUrl + "/"), agentCertificate,
                        controller));
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
        return switch (method.getName()) {
            case "info" -> info;
            case "toString" -> "RemoteHostAgent[" + info.id() + " at " + base + "]";
            case "hashCode" -> System.identityHashCode(proxy);
            case "equals" -> proxy == args[0];
            default -> call(method, args);
        };
    }

    private static Duration timeout(Method method, Object[] args) {
        if (method.getName().equals("exec") && args != null && args[2] instanceof Duration d) return d.plus(QUICK_CALL);
        return SLOW.contains(method.getName()) ? SLOW_CALL : QUICK_CALL;
    }

    private Object call(Method method, Object[] args) {
        HttpRequest request = HttpRequest.newBuilder(base.resolve(AgentWire.CALL_PATH.substring(1) + method.getName()))
                .timeout(timeout(method, args))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(AgentWire.encodeArgs(args)))
                .build();
        HttpResponse<byte[]> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (HttpTimeoutException e) {
            throw new EnclaveException.Unavailable("host " + info.id() + " did not answer " + method.getName() + " in time");
        } catch (javax.net.ssl.SSLException e) {
            throw new EnclaveException.Unavailable("host " + info.id() + " at " + base + ": TLS refused (certificates do"
                    + " not match what either side pinned): " + e.getMessage());
        } catch (IOException e) {
            throw new EnclaveException.Unavailable("host " + info.id() + " unreachable at " + base + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EnclaveException.Unavailable("interrupted while calling host " + info.id());
        }
        if (response.statusCode() == 200) return AgentWire.decodeResult(method, response.body());
        throw AgentWire.decodeError(info.id(), method.getName(), response.body());
    }
}
