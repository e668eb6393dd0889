package io.enclave.controller.persistence;

import io.enclave.core.host.BootImage;
import io.enclave.core.image.Image;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.mapper.RowMapper;

public final class ImageRepository {
    private static final RowMapper<Image> MAPPER = (rs, ctx) -> new Image(rs.getString("id"), rs.getString("name"),
            new BootImage(rs.getString("disk_path"), rs.getString("disk_format"), rs.getString("kernel_path"),
                    rs.getString("initrd_path"), rs.getString("cmdline"), rs.getBoolean("guest_agent")),
            rs.getLong("virtual_size"), Rows.instant(rs, "created_at"));

    /** Records the image, or refreshes its files if an image of that name exists. */
    public void upsert(Handle h, Image image) {
        int updated = h.createUpdate("""
                UPDATE images SET disk_path = :disk, disk_format = :fmt, kernel_path = :kernel, initrd_path = :initrd,
                cmdline = :cmdline, guest_agent = :ga, virtual_size = :size WHERE name = :name""")
                .bindMethods(new Bind(image)).execute();
        if (updated == 0) {
            h.createUpdate("""
                    INSERT INTO images (id, name, disk_path, disk_format, kernel_path, initrd_path, cmdline, guest_agent,
                    virtual_size, created_at) VALUES (:id, :name, :disk, :fmt, :kernel, :initrd, :cmdline, :ga, :size, :created)""")
                    .bindMethods(new Bind(image)).execute();
        }
    }

    public Optional<Image> findByName(Handle h, String name) {
        return h.createQuery("SELECT * FROM images WHERE name = :name").bind("name", name).map(MAPPER).findOne();
    }

    public List<Image> list(Handle h) {
        return h.createQuery("SELECT * FROM images ORDER BY name").map(MAPPER).list();
    }

    /** Flat view of an image for binding by name. */
    public record Bind(Image i) {
        public String id() { return i.id(); }
        public String name() { return i.name(); }
        public String disk() { return i.boot().diskPath(); }
        public String fmt() { return i.boot().diskFormat(); }
        public String kernel() { return i.boot().kernelPath(); }
        public String initrd() { return i.boot().initrdPath(); }
        public String cmdline() { return i.boot().cmdline(); }
        public boolean ga() { return i.boot().guestAgent(); }
        public long size() { return i.virtualSizeBytes(); }
        public java.time.OffsetDateTime created() { return Rows.ts(i.createdAt()); }
    }
}
