package io.enclave.agent.network.kernel;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/** The few libc calls that enter and create network namespaces (JNA; errno arrives as LastErrorException). */
interface LibC extends Library {
    LibC INSTANCE = Native.load("c", LibC.class);

    int O_RDONLY = 0;
    int O_CLOEXEC = 0x80000;
    int CLONE_NEWNET = 0x40000000;
    long MS_BIND = 0x1000;
    int MNT_DETACH = 2;

    int open(String path, int flags) throws LastErrorException;

    int close(int fd) throws LastErrorException;

    int unshare(int flags) throws LastErrorException;

    int setns(int fd, int nstype) throws LastErrorException;

    int mount(String source, String target, String fstype, long flags, Pointer data) throws LastErrorException;

    int umount2(String target, int flags) throws LastErrorException;

    String strerror(int errnum);
}
