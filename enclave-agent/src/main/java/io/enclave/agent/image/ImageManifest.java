package io.enclave.agent.image;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

/** manifest.json beside an image's files; paths are relative to the image's directory. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ImageManifest(String name, String disk, String diskFormat, String kernel, String initrd, String cmdline,
        boolean guestAgent, String version) {}
