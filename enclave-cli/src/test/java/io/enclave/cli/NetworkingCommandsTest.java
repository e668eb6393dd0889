package io.enclave.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What the public-network, network and firewall commands send to the API and how they print its answers. */
class NetworkingCommandsTest {
    private static final String NETWORK = """
            {"id":"net-1","tenantId":"t-1","name":"lan","cidr":"10.0.0.0/24","gateway":"10.0.0.1","mtu":1500,
             "createdAt":"2026-11-27T10:00:00.123Z"}""";

    private FakeApi api;

    @BeforeEach
    void start() throws IOException {
        api = new FakeApi();
    }

    @AfterEach
    void stop() {
        api.close();
    }

    private static JsonNode json(String text) throws IOException {
        return Json.read(text.getBytes(StandardCharsets.UTF_8));
    }

    private static String error(int status, String code, String message, String field, String reason) {
        return """
                {"error":{"status":%d,"code":"%s","message":"%s","fields":[%s]}}""".formatted(status, code, message,
                field == null ? "" : "{\"field\":\"%s\",\"reason\":\"%s\"}".formatted(field, reason));
    }

    private FakeApi.Request only() {
        assertThat(api.requests()).hasSize(1);
        return api.requests().getFirst();
    }

    // public-network

    @Test
    void publicNetworkSetPutsCidrGatewayAndMtu() throws IOException {
        api.on("PUT", "/public-network", 200,
                "{\"cidr\":\"203.0.113.0/24\",\"gateway\":\"203.0.113.1\",\"uplink\":null,\"mtu\":9000}");

        Cli.Result r = Cli.run(api.env(), "public-network", "set", "--cidr", "203.0.113.0/24",
                "--gateway", "203.0.113.1", "--mtu", "9000");

        assertThat(r.exitCode()).isZero();
        FakeApi.Request sent = only();
        assertThat(sent.method()).isEqualTo("PUT");
        assertThat(sent.path()).isEqualTo("/v1/public-network");
        assertThat(json(sent.body())).isEqualTo(json("{\"cidr\":\"203.0.113.0/24\",\"gateway\":\"203.0.113.1\",\"mtu\":9000}"));
        assertThat(r.out()).containsPattern("(?m)^cidr: +203\\.0\\.113\\.0/24$").containsPattern("(?m)^mtu: +9000$")
                .containsPattern("(?m)^uplink: +-$");
    }

    @Test
    void publicNetworkSetLeavesOutMtuWhenNotGiven() throws IOException {
        api.on("PUT", "/public-network", 200, "{\"cidr\":\"203.0.113.0/24\",\"gateway\":\"203.0.113.1\",\"mtu\":1500}");

        Cli.Result r = Cli.run(api.env(), "public-network", "set", "--cidr", "203.0.113.0/24", "--gateway", "203.0.113.1");

        assertThat(r.exitCode()).isZero();
        assertThat(json(only().body())).isEqualTo(json("{\"cidr\":\"203.0.113.0/24\",\"gateway\":\"203.0.113.1\"}"));
    }

    @Test
    void publicNetworkSetWithoutGatewayIsAUsageErrorAndSendsNothing() {
        Cli.Result r = Cli.run(api.env(), "public-network", "set", "--cidr", "203.0.113.0/24");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("Missing required option: '--gateway=G'");
        assertThat(api.requests()).isEmpty();
    }

    @Test
    void publicNetworkSetPrintsTheInvalidField() {
        api.on("PUT", "/public-network", 400,
                error(400, "invalid_request", "the request is invalid", "cidr", "not an IPv4 network"));

        Cli.Result r = Cli.run(api.env(), "public-network", "set", "--cidr", "nope", "--gateway", "203.0.113.1");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("error: the request is invalid\n  cidr: not an IPv4 network\n");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void publicNetworkShowGetsItAndPrintsJsonUnchanged() throws IOException {
        String answer = "{\"cidr\":\"203.0.113.0/24\",\"gateway\":\"203.0.113.1\",\"uplink\":null,\"mtu\":1500}";
        api.on("GET", "/public-network", 200, answer);

        Cli.Result table = Cli.run(api.env(), "public-network", "show");
        Cli.Result asJson = Cli.run(api.env(), "-o", "json", "public-network", "show");

        assertThat(api.requests()).extracting(FakeApi.Request::method, FakeApi.Request::path)
                .containsOnly(tuple("GET", "/v1/public-network"));
        assertThat(table.out()).containsPattern("(?m)^gateway: +203\\.0\\.113\\.1$");
        assertThat(json(asJson.out())).isEqualTo(json(answer));
    }

    @Test
    void publicNetworkShowNotConfiguredExitsOne() {
        api.on("GET", "/public-network", 404, error(404, "not_found", "the public network is not configured", null, null));

        Cli.Result r = Cli.run(api.env(), "public-network", "show");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("error: the public network is not configured\n");
    }

    // network

    @Test
    void networkCreatePostsNameCidrAndTenant() throws IOException {
        api.on("POST", "/networks", 201, NETWORK);

        Cli.Result r = Cli.run(api.env(), "network", "create", "lan", "--cidr", "10.0.0.0/24", "--tenant", "t-1");

        assertThat(r.exitCode()).isZero();
        FakeApi.Request sent = only();
        assertThat(sent.method()).isEqualTo("POST");
        assertThat(sent.path()).isEqualTo("/v1/networks");
        assertThat(json(sent.body())).isEqualTo(json("{\"name\":\"lan\",\"cidr\":\"10.0.0.0/24\",\"tenantId\":\"t-1\"}"));
        assertThat(r.out()).containsPattern("(?m)^id: +net-1$").containsPattern("(?m)^gateway: +10\\.0\\.0\\.1$");
    }

    @Test
    void networkCreateWithoutTenantLeavesItOut() throws IOException {
        api.on("POST", "/networks", 201, NETWORK);

        Cli.Result r = Cli.run(api.env(), "network", "create", "lan", "--cidr", "10.0.0.0/24");

        assertThat(r.exitCode()).isZero();
        assertThat(json(only().body())).isEqualTo(json("{\"name\":\"lan\",\"cidr\":\"10.0.0.0/24\"}"));
    }

    @Test
    void networkCreatePrintsTheInvalidField() {
        api.on("POST", "/networks", 400,
                error(400, "invalid_request", "the request is invalid", "cidr", "must be /16 to /29, got /8"));

        Cli.Result r = Cli.run(api.env(), "network", "create", "lan", "--cidr", "10.0.0.0/8");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("error: the request is invalid\n  cidr: must be /16 to /29, got /8\n");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void networkListPrintsATable() {
        api.on("GET", "/networks", 200, "[" + NETWORK + ","
                + "{\"id\":\"net-22\",\"tenantId\":\"t-2\",\"name\":\"db\",\"cidr\":\"172.16.0.0/16\",\"gateway\":\"172.16.0.1\",\"mtu\":9000}]");

        Cli.Result r = Cli.run(api.env(), "network", "list");

        assertThat(r.exitCode()).isZero();
        assertThat(only().path()).isEqualTo("/v1/networks");
        assertThat(r.out()).isEqualTo("""
                ID      NAME  TENANT  CIDR           GATEWAY      MTU  CREATED
                net-1   lan   t-1     10.0.0.0/24    10.0.0.1    1500  2026-11-27T10:00:00Z
                net-22  db    t-2     172.16.0.0/16  172.16.0.1  9000  -
                """);
    }

    @Test
    void networkListInJsonIsTheArrayUnchanged() throws IOException {
        api.on("GET", "/networks", 200, "[" + NETWORK + "]");

        Cli.Result r = Cli.run(api.env(), "-o", "json", "network", "list");

        assertThat(json(r.out())).isEqualTo(json("[" + NETWORK + "]"));
    }

    @Test
    void networkShowGetsTheEncodedId() {
        api.on("GET", "/networks/net-1", 200, NETWORK);

        Cli.Result r = Cli.run(api.env(), "network", "show", "net-1");
        Cli.Result odd = Cli.run(api.env(), "network", "show", "a/b");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).containsPattern("(?m)^cidr: +10\\.0\\.0\\.0/24$");
        assertThat(odd.exitCode()).isEqualTo(1);
        assertThat(api.requests().get(1).path()).isEqualTo("/v1/networks/a%2Fb");
    }

    @Test
    void networkDeleteSaysSo() {
        api.on("DELETE", "/networks/net-1", 204, "");

        Cli.Result r = Cli.run(api.env(), "network", "delete", "net-1");

        assertThat(r.exitCode()).isZero();
        assertThat(only().method()).isEqualTo("DELETE");
        assertThat(r.out()).isEqualTo("network net-1 deleted\n");
    }

    @Test
    void networkDeleteInUseExitsOneWithTheMessage() {
        api.on("DELETE", "/networks/net-1", 409, error(409, "conflict", "network net-1 has VMs on it: vm-1", null, null));

        Cli.Result r = Cli.run(api.env(), "network", "delete", "net-1");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("error: network net-1 has VMs on it: vm-1\n");
        assertThat(r.out()).isEmpty();
    }

    // firewall

    private static final String FIREWALL = """
            {"tenantId":"t-1","publicIp":"203.0.113.5","form":"light","phase":"ready","generation":4,
             "observedGeneration":4,"message":null,"rules":[
              {"id":"fwr-1","kind":"ingress","protocol":"tcp","portFrom":80,"portTo":80,"sourceCidr":null,
               "destinationCidr":null,"publicPort":null,"vmId":null,"networkId":null,"targetPort":null,"publicIp":null,
               "packets":12,"bytes":2048},
              {"id":"fwr-2","kind":"egress","protocol":"udp","portFrom":5000,"portTo":5100,"sourceCidr":null,
               "destinationCidr":"198.51.100.0/24","packets":null,"bytes":null},
              {"id":"fwr-3","kind":"forward","protocol":"tcp","sourceCidr":"192.0.2.0/24","publicPort":2222,
               "vmId":"vm-1","networkId":"net-1","targetPort":22,"packets":0,"bytes":0},
              {"id":"fwr-4","kind":"nat","protocol":null,"vmId":"vm-2","networkId":"net-1","publicIp":"203.0.113.9"}]}""";

    @Test
    void firewallShowPrintsTheFirewallThenARulesTable() {
        api.on("GET", "/firewall", 200, FIREWALL);

        Cli.Result r = Cli.run(api.env(), "firewall", "show", "--tenant", "t-1");

        assertThat(r.exitCode()).isZero();
        assertThat(only().query()).isEqualTo("tenantId=t-1");
        assertThat(r.out()).isEqualTo("""
                tenantId:           t-1
                publicIp:           203.0.113.5
                form:               light
                phase:              ready
                generation:         4
                observedGeneration: 4
                message:            -

                ID     KIND     PROTO  PORTS      SOURCE/DEST      PUBLIC-PORT  VM    TARGET-PORT  PUBLIC-IP    PACKETS  BYTES
                fwr-1  ingress  tcp    80         -                          -  -               -  -                 12   2KiB
                fwr-2  egress   udp    5000-5100  198.51.100.0/24            -  -               -  -                  -      -
                fwr-3  forward  tcp    -          192.0.2.0/24            2222  vm-1           22  -                  0     0B
                fwr-4  nat      -      -          -                          -  vm-2            -  203.0.113.9        -      -
                """);
    }

    @Test
    void firewallShowWithoutTenantSendsNoQueryAndSaysThereAreNoRules() {
        api.on("GET", "/firewall", 200, "{\"tenantId\":\"t-1\",\"publicIp\":\"203.0.113.5\",\"form\":\"light\","
                + "\"phase\":\"pending\",\"rules\":[]}");

        Cli.Result r = Cli.run(api.env(), "firewall", "show");

        assertThat(only().query()).isNull();
        assertThat(r.out()).containsPattern("(?m)^phase: +pending$").containsPattern("(?m)^rules: +-$")
                .doesNotContain("KIND");
    }

    @Test
    void firewallShowInJsonIsTheAnswerUnchanged() throws IOException {
        api.on("GET", "/firewall", 200, FIREWALL);

        Cli.Result r = Cli.run(api.env(), "-o", "json", "firewall", "show");

        assertThat(json(r.out())).isEqualTo(json(FIREWALL));
    }

    @Test
    void firewallShowWithoutFirewallExitsOne() {
        api.on("GET", "/firewall", 404, error(404, "not_found", "tenant t-1 has no firewall", null, null));

        Cli.Result r = Cli.run(api.env(), "firewall", "show");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("error: tenant t-1 has no firewall\n");
    }

    private static final String RULE = """
            {"id":"fwr-9","kind":"ingress","protocol":"tcp","portFrom":8000,"portTo":8099,"sourceCidr":"192.0.2.0/24"}""";

    @Test
    void allowPostsAnIngressRuleWithARange() throws IOException {
        api.on("POST", "/firewall/ingress", 201, RULE);

        Cli.Result r = Cli.run(api.env(), "firewall", "allow", "--protocol", "TCP", "--ports", "8000-8099",
                "--source", "192.0.2.0/24", "--tenant", "t-1");

        assertThat(r.exitCode()).isZero();
        FakeApi.Request sent = only();
        assertThat(sent.method()).isEqualTo("POST");
        assertThat(sent.path()).isEqualTo("/v1/firewall/ingress");
        assertThat(json(sent.body())).isEqualTo(json("""
                {"protocol":"tcp","portFrom":8000,"portTo":8099,"sourceCidr":"192.0.2.0/24","tenantId":"t-1"}"""));
        assertThat(r.out()).containsPattern("(?m)^id: +fwr-9$").containsPattern("(?m)^portTo: +8099$");
    }

    @Test
    void allowWithOnePortSendsOnlyPortFrom() throws IOException {
        api.on("POST", "/firewall/ingress", 201, RULE);

        Cli.Result r = Cli.run(api.env(), "firewall", "allow", "--protocol", "udp", "--ports", "53");

        assertThat(r.exitCode()).isZero();
        assertThat(json(only().body())).isEqualTo(json("{\"protocol\":\"udp\",\"portFrom\":53}"));
    }

    @Test
    void allowWithMalformedPortsIsAUsageErrorAndSendsNothing() {
        Cli.Result r = Cli.run(api.env(), "firewall", "allow", "--protocol", "tcp", "--ports", "80-");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).isEqualTo("error: --ports must be a port or a range FROM-TO, got '80-'\n");
        assertThat(api.requests()).isEmpty();
    }

    @Test
    void allowWithAnUnknownProtocolIsAUsageError() {
        Cli.Result r = Cli.run(api.env(), "firewall", "allow", "--protocol", "sctp");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--protocol").contains("sctp").contains("tcp, udp, icmp, any");
        assertThat(api.requests()).isEmpty();
    }

    @Test
    void allowPrintsTheInvalidField() {
        api.on("POST", "/firewall/ingress", 400,
                error(400, "invalid_request", "the request is invalid", "portTo", "must not be below portFrom"));

        Cli.Result r = Cli.run(api.env(), "firewall", "allow", "--protocol", "tcp", "--ports", "100-10");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("error: the request is invalid\n  portTo: must not be below portFrom\n");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void egressPostsDestinationCidr() throws IOException {
        api.on("POST", "/firewall/egress", 201, "{\"id\":\"fwr-5\",\"kind\":\"egress\",\"protocol\":\"any\"}");

        Cli.Result r = Cli.run(api.env(), "firewall", "egress", "--protocol", "any", "--destination", "0.0.0.0/0",
                "--tenant", "t-1");

        assertThat(r.exitCode()).isZero();
        assertThat(only().path()).isEqualTo("/v1/firewall/egress");
        assertThat(json(only().body())).isEqualTo(json(
                "{\"protocol\":\"any\",\"destinationCidr\":\"0.0.0.0/0\",\"tenantId\":\"t-1\"}"));
        assertThat(r.out()).containsPattern("(?m)^kind: +egress$");
    }

    @Test
    void egressPrintsTheInvalidField() {
        api.on("POST", "/firewall/egress", 400,
                error(400, "invalid_request", "the request is invalid", "protocol", "ports need tcp or udp"));

        Cli.Result r = Cli.run(api.env(), "firewall", "egress", "--protocol", "icmp", "--ports", "1");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(api.requests().getFirst().body()).isEqualTo("{\"protocol\":\"icmp\",\"portFrom\":1}");
        assertThat(r.err()).isEqualTo("error: the request is invalid\n  protocol: ports need tcp or udp\n");
    }

    @Test
    void forwardPostsEveryGivenField() throws IOException {
        api.on("POST", "/firewall/forwards", 201, "{\"id\":\"fwr-3\",\"kind\":\"forward\",\"publicPort\":2222,"
                + "\"vmId\":\"vm-1\",\"networkId\":\"net-2\",\"targetPort\":22}");

        Cli.Result r = Cli.run(api.env(), "firewall", "forward", "--public-port", "2222", "--vm", "vm-1", "--port", "22",
                "--network", "net-2", "--protocol", "udp", "--source", "192.0.2.0/24", "--tenant", "t-1");

        assertThat(r.exitCode()).isZero();
        assertThat(only().path()).isEqualTo("/v1/firewall/forwards");
        assertThat(json(only().body())).isEqualTo(json("""
                {"protocol":"udp","publicPort":2222,"vmId":"vm-1","networkId":"net-2","targetPort":22,
                 "sourceCidr":"192.0.2.0/24","tenantId":"t-1"}"""));
        assertThat(r.out()).containsPattern("(?m)^targetPort: +22$");
    }

    @Test
    void forwardLeavesOutWhatIsNotGiven() throws IOException {
        api.on("POST", "/firewall/forwards", 201, "{\"id\":\"fwr-3\"}");

        Cli.Result r = Cli.run(api.env(), "firewall", "forward", "--public-port", "80", "--vm", "vm-1", "--port", "8080");

        assertThat(r.exitCode()).isZero();
        assertThat(json(only().body())).isEqualTo(json("{\"publicPort\":80,\"vmId\":\"vm-1\",\"targetPort\":8080}"));
    }

    @Test
    void forwardOfIcmpIsAUsageError() {
        Cli.Result r = Cli.run(api.env(), "firewall", "forward", "--public-port", "80", "--vm", "vm-1", "--port", "80",
                "--protocol", "icmp");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(api.requests()).isEmpty();
    }

    @Test
    void forwardWithoutVmIsAUsageError() {
        Cli.Result r = Cli.run(api.env(), "firewall", "forward", "--public-port", "80", "--port", "80");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("Missing required option: '--vm=VM_ID'");
        assertThat(api.requests()).isEmpty();
    }

    @Test
    void forwardOfAPortAlreadyForwardedExitsOne() {
        api.on("POST", "/firewall/forwards", 409,
                error(409, "conflict", "public port tcp/80 is already forwarded (rule fwr-1)", null, null));

        Cli.Result r = Cli.run(api.env(), "firewall", "forward", "--public-port", "80", "--vm", "vm-1", "--port", "80");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("error: public port tcp/80 is already forwarded (rule fwr-1)\n");
    }

    @Test
    void natPostsVmNetworkAndTenantAndPrintsTheAddress() throws IOException {
        api.on("POST", "/firewall/nat", 201, "{\"id\":\"fwr-4\",\"kind\":\"nat\",\"vmId\":\"vm-2\","
                + "\"networkId\":\"net-1\",\"publicIp\":\"203.0.113.9\"}");

        Cli.Result r = Cli.run(api.env(), "firewall", "nat", "--vm", "vm-2", "--network", "net-1", "--tenant", "t-1");

        assertThat(r.exitCode()).isZero();
        assertThat(only().path()).isEqualTo("/v1/firewall/nat");
        assertThat(json(only().body())).isEqualTo(json("{\"vmId\":\"vm-2\",\"networkId\":\"net-1\",\"tenantId\":\"t-1\"}"));
        assertThat(r.out()).containsPattern("(?m)^publicIp: +203\\.0\\.113\\.9$");
    }

    @Test
    void natPrintsTheInvalidField() {
        api.on("POST", "/firewall/nat", 400,
                error(400, "invalid_request", "the request is invalid", "networkId", "VM vm-2 has no NIC on network net-9"));

        Cli.Result r = Cli.run(api.env(), "firewall", "nat", "--vm", "vm-2", "--network", "net-9");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("error: the request is invalid\n  networkId: VM vm-2 has no NIC on network net-9\n");
    }

    @Test
    void deleteRemovesTheRule() {
        api.on("DELETE", "/firewall/rules/fwr-1", 204, "");

        Cli.Result r = Cli.run(api.env(), "firewall", "delete", "fwr-1");
        Cli.Result asJson = Cli.run(api.env(), "-o", "json", "firewall", "delete", "fwr-1");

        assertThat(r.exitCode()).isZero();
        assertThat(api.requests()).extracting(FakeApi.Request::method).containsOnly("DELETE");
        assertThat(r.out()).isEqualTo("firewall rule fwr-1 deleted\n");
        assertThat(asJson.out()).isEmpty();
    }

    @Test
    void deleteOfAnUnknownRuleExitsOne() {
        api.on("DELETE", "/firewall/rules/fwr-x", 404, error(404, "not_found", "firewall rule fwr-x not found", null, null));

        Cli.Result r = Cli.run(api.env(), "firewall", "delete", "fwr-x");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("error: firewall rule fwr-x not found\n");
        assertThat(r.out()).isEmpty();
    }
}
