package io.enclave.core.tenant;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.core.error.FieldError;
import org.junit.jupiter.api.Test;

class QuotaTest {
    final Quota quota = new Quota(4, 4096, 20, 3);

    @Test
    void admitsWhatFitsExactly() {
        assertThat(quota.exceededBy(new Usage(3, 3968, 19, 2), new Usage(1, 128, 1, 1))).isEmpty();
    }

    @Test
    void namesEachExceededResourceWithWhatIsLeft() {
        var errors = quota.exceededBy(new Usage(4, 4000, 20, 3), new Usage(1, 128, 1, 1));
        assertThat(errors).extracting(FieldError::field).containsExactly("vms", "vcpus", "memoryMib", "diskGib");
        assertThat(errors.get(2).reason()).contains("96 of 4096 MiB");
    }
}
