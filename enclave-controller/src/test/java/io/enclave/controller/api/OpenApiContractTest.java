package io.enclave.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.enclave.controller.service.TenantService;
import io.enclave.core.tenant.Quota;
import io.enclave.core.tenant.Usage;
import java.io.InputStream;
import java.lang.reflect.RecordComponent;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The OpenAPI document and the implementation describe the same API: endpoints and fields. */
class OpenApiContractTest {
    static JsonNode doc;

    @BeforeAll
    static void load() throws Exception {
        try (InputStream in = OpenApiContractTest.class.getResourceAsStream("/openapi.yaml")) {
            doc = new ObjectMapper(new YAMLFactory()).readTree(in);
        }
    }

    @Test
    void everyRouteIsDocumentedAndEveryDocumentedOperationExists() {
        Set<String> implemented = new ApiServer(null, null, null, null, null, null, null, null, null).routes().stream()
                .map(r -> r.method().name() + " " + r.path())
                .collect(Collectors.toCollection(TreeSet::new));
        Set<String> documented = new TreeSet<>();
        doc.path("paths").properties().forEach(path -> path.getValue().properties().forEach(op -> {
            if (Set.of("get", "post", "put", "delete", "patch").contains(op.getKey())) {
                documented.add(op.getKey().toUpperCase() + " " + path.getKey());
            }
        }));
        assertThat(implemented).isEqualTo(documented);
    }

    @Test
    void requestAndResponseSchemasListExactlyTheRecordsFields() {
        Map<String, Class<? extends Record>> schemas = Map.ofEntries(
                Map.entry("CreateVm", Requests.CreateVm.class),
                Map.entry("BootVolume", Requests.BootVolume.class),
                Map.entry("CreateTenant", Requests.CreateTenant.class),
                Map.entry("CreateToken", Requests.CreateToken.class),
                Map.entry("StopVm", Requests.StopVm.class),
                Map.entry("ExecInVm", Requests.ExecInVm.class),
                Map.entry("ImportImage", Requests.ImportImage.class),
                Map.entry("Quota", Quota.class),
                Map.entry("Usage", Usage.class),
                Map.entry("Vm", Views.VmView.class),
                Map.entry("VmPage", Views.Page.class),
                Map.entry("VmAccepted", Views.VmAccepted.class),
                Map.entry("Operation", Views.OperationView.class),
                Map.entry("Tenant", Views.TenantView.class),
                Map.entry("Token", Views.TokenView.class),
                Map.entry("IssuedToken", TenantService.IssuedToken.class),
                Map.entry("Image", Views.ImageView.class),
                Map.entry("Host", Views.HostView.class),
                Map.entry("JoinHost", Requests.JoinHost.class),
                Map.entry("JoinedHost", Views.JoinedHost.class),
                Map.entry("ExecResult", Views.ExecView.class),
                Map.entry("Whoami", Views.Whoami.class),
                Map.entry("SetPublicNetwork", Requests.SetPublicNetwork.class),
                Map.entry("PublicNetwork", Views.PublicNetworkView.class),
                Map.entry("CreateNetwork", Requests.CreateNetwork.class),
                Map.entry("Network", Views.NetworkView.class),
                Map.entry("Nic", Views.NicView.class),
                Map.entry("Firewall", Views.FirewallView.class),
                Map.entry("FirewallRule", Views.RuleView.class),
                Map.entry("AddIngressRule", Requests.AddIngressRule.class),
                Map.entry("AddEgressRule", Requests.AddEgressRule.class),
                Map.entry("AddPortForward", Requests.AddPortForward.class),
                Map.entry("AddOneToOneNat", Requests.AddOneToOneNat.class),
                Map.entry("RegisterDevice", Requests.RegisterDevice.class),
                Map.entry("StorageDevice", Views.DeviceView.class),
                Map.entry("CreatePool", Requests.CreatePool.class),
                Map.entry("StoragePool", Views.PoolView.class),
                Map.entry("CreateVolume", Requests.CreateVolume.class),
                Map.entry("Volume", Views.VolumeView.class),
                Map.entry("VolumeCopy", Views.VolumeCopyView.class),
                Map.entry("GrowVolume", Requests.GrowVolume.class),
                Map.entry("AttachVolume", Requests.AttachVolume.class),
                Map.entry("CreateSnapshot", Requests.CreateSnapshot.class),
                Map.entry("Snapshot", Views.SnapshotView.class),
                Map.entry("ResyncVolume", Requests.ResyncVolume.class));
        schemas.forEach((schema, type) -> {
            Set<String> documented = new TreeSet<>();
            doc.path("components").path("schemas").path(schema).path("properties").fieldNames().forEachRemaining(documented::add);
            Set<String> fields = Arrays.stream(type.getRecordComponents()).map(RecordComponent::getName)
                    .collect(Collectors.toCollection(TreeSet::new));
            assertThat(documented).as("schema %s vs %s", schema, type.getSimpleName()).isEqualTo(fields);
        });
        // The request body for a quota update is the Quota schema, parsed as Requests.QuotaBody.
        Set<String> quotaBody = Arrays.stream(Requests.QuotaBody.class.getRecordComponents()).map(RecordComponent::getName)
                .collect(Collectors.toCollection(TreeSet::new));
        assertThat(quotaBody).isEqualTo(Arrays.stream(Quota.class.getRecordComponents()).map(RecordComponent::getName)
                .collect(Collectors.toCollection(TreeSet::new)));
        Set<String> errorFields = new TreeSet<>();
        doc.path("components").path("schemas").path("Error").path("properties").path("error").path("properties")
                .fieldNames().forEachRemaining(errorFields::add);
        assertThat(errorFields).isEqualTo(Arrays.stream(ErrorResponses.ErrorBody.class.getRecordComponents())
                .map(RecordComponent::getName).collect(Collectors.toCollection(TreeSet::new)));
    }
}
