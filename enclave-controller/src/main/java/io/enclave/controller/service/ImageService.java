package io.enclave.controller.service;

import io.enclave.controller.persistence.Store;
import io.enclave.core.Ids;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.image.Image;
import io.enclave.core.image.ImageFiles;
import io.enclave.core.image.ImageProvider;
import java.time.Clock;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The image catalogue: what the hosts' image libraries hold, recorded so VMs can name them. */
public final class ImageService {
    private static final Logger log = LoggerFactory.getLogger(ImageService.class);

    private final Store store;
    private final ImageProvider provider;
    private final Clock clock;

    public ImageService(Store store, ImageProvider provider, Clock clock) {
        this.store = store;
        this.provider = provider;
        this.clock = clock;
    }

    /** Records every image the library holds (at startup). */
    public void syncFromLibrary() {
        for (ImageFiles files : provider.scan()) {
            record(files);
            log.info("image {} available ({} bytes virtual)", files.name(), files.virtualSizeBytes());
        }
    }

    public List<Image> list() {
        return store.jdbi().withHandle(h -> store.images().list(h));
    }

    public Image importDisk(String name, String path, String kernel, String initrd, String cmdline, boolean guestAgent) {
        if (name != null && store.jdbi().withHandle(h -> store.images().findByName(h, name)).isPresent()) {
            throw new EnclaveException.Conflict("an image named '" + name + "' already exists");
        }
        return record(provider.importDisk(name, path, kernel, initrd, cmdline, guestAgent));
    }

    private Image record(ImageFiles files) {
        Image image = new Image(Ids.newId("img"), files.name(), files.boot(), files.virtualSizeBytes(), clock.instant());
        store.jdbi().useTransaction(h -> store.images().upsert(h, image));
        return store.jdbi().withHandle(h -> store.images().findByName(h, files.name())).orElseThrow();
    }
}
