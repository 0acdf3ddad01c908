// Forwarders for the libvirt functions LibvirtBackend uses (see
// include/CLibvirt.h): each has libvirt's own prototype (the compiler
// checks it against libvirt's headers) and calls the function that
// dlsym found in libvirt.so.0 or libvirt-qemu.so.0.
//
// The forwarders are hidden: they are not exported from the runner, so the
// libraries loaded later keep binding to libvirt's definitions.
#pragma GCC visibility push(hidden)
#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#pragma GCC visibility pop
#include "CLibvirt.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_once_t loadOnce = PTHREAD_ONCE_INIT;
static void *libvirtHandle;
static void *libvirtQemuHandle;
static char loadError[512];

static void loadLibraries(void) {
  libvirtHandle = dlopen("libvirt.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!libvirtHandle) {
    snprintf(loadError, sizeof loadError,
             "cannot load libvirt (libvirt.so.0: %s); install it with scripts/setup.sh "
             "(Debian/Ubuntu package libvirt0)", dlerror());
    return;
  }
  libvirtQemuHandle = dlopen("libvirt-qemu.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!libvirtQemuHandle) {
    snprintf(loadError, sizeof loadError,
             "cannot load libvirt's QEMU API (libvirt-qemu.so.0: %s); install it with "
             "scripts/setup.sh (Debian/Ubuntu package libvirt0)", dlerror());
  }
}

int swiftguest_libvirt_load(const char **message) {
  pthread_once(&loadOnce, loadLibraries);
  if (libvirtHandle && libvirtQemuHandle) return 0;
  if (message) *message = loadError;
  return -1;
}

/// The address of `name` in `library` (0: libvirt, 1: libvirt-qemu). A
/// caller that did not check `swiftguest_libvirt_load` first and finds
/// libvirt missing ends the process with the reason, rather than calling
/// through a null pointer.
static void *resolve(int library, const char *name) {
  const char *message = 0;
  if (swiftguest_libvirt_load(&message) != 0) {
    fprintf(stderr, "fatal: %s\n", message);
    abort();
  }
  void *address = dlsym(library ? libvirtQemuHandle : libvirtHandle, name);
  if (!address) {
    fprintf(stderr, "fatal: libvirt has no %s (%s)\n", name, dlerror());
    abort();
  }
  return address;
}

// One forwarder: `RETURN` is `return` or nothing (void functions).
#define FORWARD(LIBRARY, RESULT, NAME, PARAMETERS, ARGUMENTS, RETURN)           \
  RESULT NAME PARAMETERS {                                                      \
    static __typeof__(&NAME) real;                                              \
    __typeof__(&NAME) function = __atomic_load_n(&real, __ATOMIC_ACQUIRE);      \
    if (!function) {                                                            \
      function = (__typeof__(&NAME))resolve(LIBRARY, #NAME);                    \
      __atomic_store_n(&real, function, __ATOMIC_RELEASE);                      \
    }                                                                           \
    RETURN function ARGUMENTS;                                                  \
  }
#define LIBVIRT(RESULT, NAME, PARAMETERS, ARGUMENTS) \
  FORWARD(0, RESULT, NAME, PARAMETERS, ARGUMENTS, return)
#define LIBVIRT_VOID(NAME, PARAMETERS, ARGUMENTS) FORWARD(0, void, NAME, PARAMETERS, ARGUMENTS, )

// Connections and the event loop.
LIBVIRT(virConnectPtr, virConnectOpen, (const char *name), (name))
LIBVIRT(int, virConnectClose, (virConnectPtr conn), (conn))
LIBVIRT(int, virConnectIsAlive, (virConnectPtr conn), (conn))
LIBVIRT(int, virConnectSetKeepAlive, (virConnectPtr conn, int interval, unsigned int count),
        (conn, interval, count))
LIBVIRT(int, virConnectRegisterCloseCallback,
        (virConnectPtr conn, virConnectCloseFunc cb, void *opaque, virFreeCallback freecb),
        (conn, cb, opaque, freecb))
LIBVIRT(int, virConnectUnregisterCloseCallback, (virConnectPtr conn, virConnectCloseFunc cb),
        (conn, cb))
LIBVIRT(char *, virConnectGetCapabilities, (virConnectPtr conn), (conn))
LIBVIRT(int, virConnectListAllDomains,
        (virConnectPtr conn, virDomainPtr **domains, unsigned int flags), (conn, domains, flags))
LIBVIRT(int, virConnectDomainEventRegisterAny,
        (virConnectPtr conn, virDomainPtr dom, int eventID,
         virConnectDomainEventGenericCallback cb, void *opaque, virFreeCallback freecb),
        (conn, dom, eventID, cb, opaque, freecb))
LIBVIRT(int, virConnectDomainEventDeregisterAny, (virConnectPtr conn, int callbackID),
        (conn, callbackID))
LIBVIRT(int, virEventRegisterDefaultImpl, (void), ())
LIBVIRT(int, virEventRunDefaultImpl, (void), ())
LIBVIRT(virErrorPtr, virGetLastError, (void), ())
LIBVIRT_VOID(virSetErrorFunc, (void *userData, virErrorFunc handler), (userData, handler))

// The host.
LIBVIRT(int, virNodeGetInfo, (virConnectPtr conn, virNodeInfoPtr info), (conn, info))
LIBVIRT(int, virNodeGetMemoryStats,
        (virConnectPtr conn, int cellNum, virNodeMemoryStatsPtr params, int *nparams,
         unsigned int flags),
        (conn, cellNum, params, nparams, flags))

// Domains.
LIBVIRT(virDomainPtr, virDomainCreateXML,
        (virConnectPtr conn, const char *xmlDesc, unsigned int flags), (conn, xmlDesc, flags))
LIBVIRT(int, virDomainResume, (virDomainPtr domain), (domain))
LIBVIRT(int, virDomainDestroy, (virDomainPtr domain), (domain))
LIBVIRT(int, virDomainFree, (virDomainPtr domain), (domain))
LIBVIRT(int, virDomainIsActive, (virDomainPtr dom), (dom))
LIBVIRT(const char *, virDomainGetName, (virDomainPtr domain), (domain))
LIBVIRT(char *, virDomainGetXMLDesc, (virDomainPtr domain, unsigned int flags), (domain, flags))
LIBVIRT(int, virDomainOpenConsole,
        (virDomainPtr dom, const char *dev_name, virStreamPtr st, unsigned int flags),
        (dom, dev_name, st, flags))
LIBVIRT(virDomainPtr, virDomainMigrate3,
        (virDomainPtr domain, virConnectPtr dconn, virTypedParameterPtr params,
         unsigned int nparams, unsigned int flags),
        (domain, dconn, params, nparams, flags))
LIBVIRT(int, virDomainGetJobStats,
        (virDomainPtr domain, int *type, virTypedParameterPtr *params, int *nparams,
         unsigned int flags),
        (domain, type, params, nparams, flags))
FORWARD(1, int, virDomainQemuMonitorCommand,
        (virDomainPtr domain, const char *cmd, char **result, unsigned int flags),
        (domain, cmd, result, flags), return)

// Typed parameters.
LIBVIRT(int, virTypedParamsAddString,
        (virTypedParameterPtr *params, int *nparams, int *maxparams, const char *name,
         const char *value),
        (params, nparams, maxparams, name, value))
LIBVIRT(int, virTypedParamsGetULLong,
        (virTypedParameterPtr params, int nparams, const char *name, unsigned long long *value),
        (params, nparams, name, value))
LIBVIRT_VOID(virTypedParamsFree, (virTypedParameterPtr params, int nparams), (params, nparams))

// Streams.
LIBVIRT(virStreamPtr, virStreamNew, (virConnectPtr conn, unsigned int flags), (conn, flags))
LIBVIRT(int, virStreamSend, (virStreamPtr st, const char *data, size_t nbytes), (st, data, nbytes))
LIBVIRT(int, virStreamRecv, (virStreamPtr st, char *data, size_t nbytes), (st, data, nbytes))
LIBVIRT(int, virStreamFinish, (virStreamPtr st), (st))
LIBVIRT(int, virStreamAbort, (virStreamPtr st), (st))
LIBVIRT(int, virStreamFree, (virStreamPtr st), (st))
LIBVIRT(int, virStreamEventAddCallback,
        (virStreamPtr stream, int events, virStreamEventCallback cb, void *opaque,
         virFreeCallback ff),
        (stream, events, cb, opaque, ff))
LIBVIRT(int, virStreamEventRemoveCallback, (virStreamPtr stream), (stream))

// Storage pools and volumes.
LIBVIRT(virStoragePoolPtr, virStoragePoolLookupByName, (virConnectPtr conn, const char *name),
        (conn, name))
LIBVIRT(virStoragePoolPtr, virStoragePoolCreateXML,
        (virConnectPtr conn, const char *xmlDesc, unsigned int flags), (conn, xmlDesc, flags))
LIBVIRT(int, virStoragePoolCreate, (virStoragePoolPtr pool, unsigned int flags), (pool, flags))
LIBVIRT(int, virStoragePoolIsActive, (virStoragePoolPtr pool), (pool))
LIBVIRT(int, virStoragePoolRefresh, (virStoragePoolPtr pool, unsigned int flags), (pool, flags))
LIBVIRT(char *, virStoragePoolGetXMLDesc, (virStoragePoolPtr pool, unsigned int flags),
        (pool, flags))
LIBVIRT(int, virStoragePoolFree, (virStoragePoolPtr pool), (pool))
LIBVIRT(virStorageVolPtr, virStorageVolLookupByName, (virStoragePoolPtr pool, const char *name),
        (pool, name))
LIBVIRT(virStorageVolPtr, virStorageVolCreateXML,
        (virStoragePoolPtr pool, const char *xmldesc, unsigned int flags), (pool, xmldesc, flags))
LIBVIRT(int, virStorageVolUpload,
        (virStorageVolPtr vol, virStreamPtr stream, unsigned long long offset,
         unsigned long long length, unsigned int flags),
        (vol, stream, offset, length, flags))
LIBVIRT(int, virStorageVolDownload,
        (virStorageVolPtr vol, virStreamPtr stream, unsigned long long offset,
         unsigned long long length, unsigned int flags),
        (vol, stream, offset, length, flags))
LIBVIRT(char *, virStorageVolGetPath, (virStorageVolPtr vol), (vol))
LIBVIRT(int, virStorageVolDelete, (virStorageVolPtr vol, unsigned int flags), (vol, flags))
LIBVIRT(int, virStorageVolFree, (virStorageVolPtr vol), (vol))
