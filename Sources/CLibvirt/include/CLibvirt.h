// libvirt's C API for LibvirtBackend, loaded on first use.
//
// The declarations are libvirt's own headers. The functions LibvirtBackend
// calls are defined in LibvirtLoader.c, which resolves each in libvirt.so.0
// or libvirt-qemu.so.0 with dlopen/dlsym the first time it is called: the
// runner does not link libvirt, so a run that never uses the libvirt
// backend does not load it and its ~40 libraries (about 17 ms of every
// runner start on the development host), and a machine without libvirt
// runs bare QEMU all the same.
#ifndef SWIFTGUEST_CLIBVIRT_H
#define SWIFTGUEST_CLIBVIRT_H

#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

/// Loads libvirt (once; safe from any thread). Returns 0 when it is loaded,
/// else -1 with `*message` set to a static text naming what is missing.
int swiftguest_libvirt_load(const char **message);

#endif
