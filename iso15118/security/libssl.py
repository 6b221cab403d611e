"""A ctypes bridge to the libssl behind CPython's :mod:`ssl`, for the TLS 1.3 settings :mod:`ssl` lacks.

Python 3.11's :class:`ssl.SSLContext` cannot choose TLS 1.3 cipher suites, key-exchange groups (only one
curve, via ``set_ecdh_curve``), signature algorithms or the CA names sent to the peer, and cannot tell which
group a handshake used. OpenSSL can; this module calls it on the context's own ``SSL_CTX``:

``SSL_CTX_set_ciphersuites``, ``SSL_CTX_ctrl(SET_GROUPS_LIST | SET_SIGALGS_LIST | SET_CLIENT_SIGALGS_LIST)``,
``SSL_CTX_set_client_CA_list`` / ``SSL_CTX_set0_CA_list`` (with ``SSL_load_client_CA_file`` and
``SSL_add_file_cert_subjects_to_stack``), and on a
finished connection ``SSL_ctrl(GET_NEGOTIATED_GROUP)``, ``SSL_get_peer_signature_type_nid``,
``SSL_ctrl(GET_PEER_SIGNATURE_NID)`` and ``SSL_get0_verified_chain`` (Python 3.11 exposes only the peer's leaf).

Refused peers: Python reports a failed certificate verification without saying whose certificate it was. A
verify callback installed by :func:`watch_verification` (``SSL_CTX_set_verify`` with the context's own mode)
copies the chain the peer sent when OpenSSL refuses it and returns OpenSSL's verdict unchanged -- an observer
that never decides; :func:`refused_chain` hands that copy to the code that reports the refusal.

Why it is safe, and where it is not available:

* The symbols are looked up through the ``_ssl`` extension module itself (``dlopen`` of an already loaded
  object, whose dependency scope contains the very libssl/libcrypto it was linked with), and the library's
  ``OpenSSL_version_num()`` must equal :data:`ssl.OPENSSL_VERSION_NUMBER`; otherwise nothing is called.
* CPython's ``PySSLContext`` starts with ``SSL_CTX *ctx`` right after the object header, and
  ``PySSLSocket`` with ``PyObject *Socket; SSL *ssl; PySSLContext *ctx`` (unchanged from 3.7 to 3.13). Before
  using an ``SSL_CTX`` pointer we compare ``SSL_CTX_get_options`` and ``SSL_CTX_get_verify_mode`` with the
  Python object's values; before using an ``SSL`` pointer we check that the object's context field is the
  very context object and that ``SSL_get_SSL_CTX`` returns that context's pointer.
* Needs CPython with a dynamically linked OpenSSL >= 3.0 exposing these symbols (Linux distributions,
  python.org/pyenv builds, Homebrew). Elsewhere (PyPy, a statically linked ``_ssl``, Windows, where symbols of
  dependencies are not reachable through the module handle) :func:`available` says why not and the TLS
  factories refuse strict mode instead of silently not enforcing.

The control codes are part of OpenSSL's stable ABI (``ssl.h``): 92 groups, 98 sigalgs, 102 client sigalgs,
108 peer signature NID, 134 negotiated group.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import functools
import ssl
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from iso15118.errors import ConfigError

__all__ = [
    "RefusedChain",
    "available",
    "negotiated_group",
    "peer_signature",
    "refused_chain",
    "set_ca_names",
    "set_ciphersuites",
    "set_client_sigalgs",
    "set_groups",
    "set_sigalgs",
    "verified_chain",
    "watch_verification",
]

_SET_GROUPS_LIST = 92
_SET_SIGALGS_LIST = 98
_SET_CLIENT_SIGALGS_LIST = 102
_GET_PEER_SIGNATURE_NID = 108
_GET_NEGOTIATED_GROUP = 134
_POINTER = ctypes.sizeof(ctypes.c_void_p)
_VERIFY_MODES = {ssl.CERT_NONE: 0, ssl.CERT_OPTIONAL: 1, ssl.CERT_REQUIRED: 3}  # SSL_VERIFY_* bits
_VERIFY_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)  # int (*)(int, X509_STORE_CTX *)
_KEPT_REFUSALS = 64  # refused chains not yet collected, per process (older ones are dropped)


def _declare(lib: ctypes.CDLL, name: str, restype: Any, *argtypes: Any) -> Callable[..., Any]:
    func = getattr(lib, name)
    func.restype = restype
    func.argtypes = list(argtypes)
    return func  # type: ignore[no-any-return]


class _Lib:
    def __init__(self, lib: ctypes.CDLL) -> None:
        vp, cp, i, l_, u64 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_long, ctypes.c_uint64
        self.ctx_ctrl = _declare(lib, "SSL_CTX_ctrl", l_, vp, i, l_, vp)
        self.ssl_ctrl = _declare(lib, "SSL_ctrl", l_, vp, i, l_, vp)
        self.set_ciphersuites = _declare(lib, "SSL_CTX_set_ciphersuites", i, vp, cp)
        self.get_options = _declare(lib, "SSL_CTX_get_options", u64, vp)
        self.get_verify_mode = _declare(lib, "SSL_CTX_get_verify_mode", i, vp)
        self.get_ssl_ctx = _declare(lib, "SSL_get_SSL_CTX", vp, vp)
        self.load_ca_file = _declare(lib, "SSL_load_client_CA_file", vp, cp)
        self.add_ca_file = _declare(lib, "SSL_add_file_cert_subjects_to_stack", i, vp, cp)
        self.pop_free = _declare(lib, "OPENSSL_sk_pop_free", None, vp, vp)
        self.name_free = ctypes.cast(lib.X509_NAME_free, vp)
        self.set_client_ca_list = _declare(lib, "SSL_CTX_set_client_CA_list", None, vp, vp)
        self.set0_ca_list = _declare(lib, "SSL_CTX_set0_CA_list", None, vp, vp)
        self.peer_sig_type = _declare(lib, "SSL_get_peer_signature_type_nid", i, vp, ctypes.POINTER(i))
        self.nid2sn = _declare(lib, "OBJ_nid2sn", cp, i)
        self.err_get = _declare(lib, "ERR_get_error", ctypes.c_ulong)
        self.err_string = _declare(lib, "ERR_error_string_n", None, ctypes.c_ulong, cp, ctypes.c_size_t)
        self.err_clear = _declare(lib, "ERR_clear_error", None)
        self.ctx_set_verify = _declare(lib, "SSL_CTX_set_verify", None, vp, i, vp)
        self.ssl_store_idx = _declare(lib, "SSL_get_ex_data_X509_STORE_CTX_idx", i)
        self.store_ex_data = _declare(lib, "X509_STORE_CTX_get_ex_data", vp, vp, i)
        self.store_cert = _declare(lib, "X509_STORE_CTX_get0_cert", vp, vp)
        self.store_untrusted = _declare(lib, "X509_STORE_CTX_get0_untrusted", vp, vp)
        self.store_error = _declare(lib, "X509_STORE_CTX_get_error", i, vp)
        self.store_depth = _declare(lib, "X509_STORE_CTX_get_error_depth", i, vp)
        self.verified_chain = _declare(lib, "SSL_get0_verified_chain", vp, vp)
        self.sk_num = _declare(lib, "OPENSSL_sk_num", i, vp)
        self.sk_value = _declare(lib, "OPENSSL_sk_value", vp, vp, i)
        self.i2d_x509 = _declare(lib, "i2d_X509", i, vp, ctypes.POINTER(ctypes.c_void_p))

    def der(self, x509: int) -> bytes:
        """The DER encoding of an ``X509 *``."""
        size = self.i2d_x509(x509, None)
        if size <= 0:
            return b""
        buffer = ctypes.create_string_buffer(size)
        cursor = ctypes.c_void_p(ctypes.addressof(buffer))
        self.i2d_x509(x509, ctypes.byref(cursor))
        return buffer.raw[:size]

    def stack_der(self, stack: int | None) -> list[bytes]:
        """The DER encodings of a ``STACK_OF(X509) *``, in stack order."""
        if not stack:
            return []
        return [self.der(self.sk_value(stack, i)) for i in range(self.sk_num(stack))]

    def last_error(self) -> str:
        code = self.err_get()
        self.err_clear()
        if not code:
            return "no detail from OpenSSL"
        buf = ctypes.create_string_buffer(256)
        self.err_string(code, buf, len(buf))
        return buf.value.decode(errors="replace")


@functools.cache
def _load() -> tuple[_Lib | None, str]:
    if sys.implementation.name != "cpython":
        return None, f"needs CPython (this is {sys.implementation.name})"
    if not (3, 8) <= sys.version_info[:2] <= (3, 14):
        # The struct layouts relied on below were checked for these versions only.
        return None, f"the ssl object layout of CPython {sys.version_info[0]}.{sys.version_info[1]} is unverified"
    if ssl.OPENSSL_VERSION_NUMBER < 0x30000000:
        return None, f"needs OpenSSL >= 3.0 (Python's ssl uses {ssl.OPENSSL_VERSION})"
    import _ssl  # the extension module whose libssl we must reach

    try:
        lib = ctypes.CDLL(_ssl.__file__)
        version = _declare(lib, "OpenSSL_version_num", ctypes.c_ulong)()
        bridge = _Lib(lib)
    except (OSError, AttributeError, TypeError) as exc:
        return None, f"libssl symbols are not reachable through {getattr(_ssl, '__file__', '_ssl')}: {exc}"
    if version != ssl.OPENSSL_VERSION_NUMBER:
        return None, f"found libssl {version:#x}, but Python's ssl uses {ssl.OPENSSL_VERSION_NUMBER:#x}"
    return bridge, ""


def available() -> tuple[bool, str]:
    """(True, "") when the bridge works here, else (False, reason)."""
    lib, reason = _load()
    return lib is not None, reason


def _lib() -> _Lib:
    lib, reason = _load()
    if lib is None:
        raise ConfigError(f"cannot configure TLS 1.3 parameters through libssl: {reason}")
    return lib


def _ctx_pointer(lib: _Lib, context: ssl.SSLContext) -> int:
    if type(context).__basicsize__ < object.__basicsize__ + _POINTER:
        raise ConfigError("unexpected ssl.SSLContext layout; cannot reach its SSL_CTX")
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer:
        raise ConfigError("ssl.SSLContext has no SSL_CTX")
    if lib.get_options(pointer) != int(context.options) or (
        lib.get_verify_mode(pointer) & 3 != _VERIFY_MODES[context.verify_mode]
    ):
        raise ConfigError("ssl.SSLContext layout check failed; refusing to touch its SSL_CTX")
    return pointer


def _connection(connection: ssl.SSLObject | ssl.SSLSocket) -> tuple[_Lib, int] | None:
    """libssl and the connection's SSL pointer, or None when either cannot be had safely."""
    lib, _ = _load()
    if lib is None:
        return None
    pointer = _ssl_pointer(lib, connection)
    return None if pointer is None else (lib, pointer)


def _ssl_pointer(lib: _Lib, connection: ssl.SSLObject | ssl.SSLSocket) -> int | None:
    inner = getattr(connection, "_sslobj", None)
    if inner is None:
        return None
    if type(inner).__basicsize__ < object.__basicsize__ + 3 * _POINTER:
        return None
    base = id(inner) + object.__basicsize__
    context_field = ctypes.c_void_p.from_address(base + 2 * _POINTER).value
    if context_field != id(connection.context):
        return None
    pointer = ctypes.c_void_p.from_address(base + _POINTER).value
    if not pointer or lib.get_ssl_ctx(pointer) != _ctx_pointer(lib, connection.context):
        return None
    return pointer


def _ctrl_string(context: ssl.SSLContext, code: int, value: str, what: str) -> None:
    lib = _lib()
    if lib.ctx_ctrl(_ctx_pointer(lib, context), code, 0, ctypes.c_char_p(value.encode())) != 1:
        raise ConfigError(f"OpenSSL refused {what} {value!r}: {lib.last_error()}")


def set_ciphersuites(context: ssl.SSLContext, suites: str) -> None:
    """Set the TLS 1.3 cipher suites (colon-separated IANA names) of ``context``."""
    lib = _lib()
    if lib.set_ciphersuites(_ctx_pointer(lib, context), suites.encode()) != 1:
        raise ConfigError(f"OpenSSL refused TLS 1.3 cipher suites {suites!r}: {lib.last_error()}")


def set_groups(context: ssl.SSLContext, groups: str) -> None:
    """Set the key-exchange groups, in preference order (OpenSSL names, e.g. ``"P-521:X448"``)."""
    _ctrl_string(context, _SET_GROUPS_LIST, groups, "groups")


def set_sigalgs(context: ssl.SSLContext, sigalgs: str) -> None:
    """Set the signature algorithms offered and accepted (e.g. ``"ecdsa_secp521r1_sha512:ed448"``)."""
    _ctrl_string(context, _SET_SIGALGS_LIST, sigalgs, "signature algorithms")


def set_client_sigalgs(context: ssl.SSLContext, sigalgs: str) -> None:
    """Set the signature algorithms a server accepts for client certificates (CertificateRequest)."""
    _ctrl_string(context, _SET_CLIENT_SIGALGS_LIST, sigalgs, "client signature algorithms")


def set_ca_names(context: ssl.SSLContext, cafiles: Sequence[str], *, server: bool) -> None:
    """Send the subject names of the certificates in ``cafiles`` in the certificate_authorities extension.

    A server puts them in its CertificateRequest; a client puts them in its ClientHello.
    """
    if not cafiles:
        return
    lib = _lib()
    pointer = _ctx_pointer(lib, context)
    names = lib.load_ca_file(cafiles[0].encode())
    if not names:
        raise ConfigError(f"cannot read CA names from {cafiles[0]}: {lib.last_error()}")
    for cafile in cafiles[1:]:
        if lib.add_ca_file(names, cafile.encode()) != 1:
            lib.pop_free(names, lib.name_free)
            raise ConfigError(f"cannot read CA names from {cafile}: {lib.last_error()}")
    # Both setters take ownership of the name stack.
    (lib.set_client_ca_list if server else lib.set0_ca_list)(pointer, names)


def negotiated_group(connection: ssl.SSLObject | ssl.SSLSocket) -> str | None:
    """The key-exchange group of a finished handshake (``"secp521r1"``, ``"X448"``...), or None if unknown."""
    found = _connection(connection)
    if found is None:
        return None
    lib, pointer = found
    nid = int(lib.ssl_ctrl(pointer, _GET_NEGOTIATED_GROUP, 0, None))
    name = lib.nid2sn(nid) if nid > 0 else None
    return name.decode() if name else None


def peer_signature(connection: ssl.SSLObject | ssl.SSLSocket) -> str | None:
    """How the peer signed its CertificateVerify: ``"ECDSA+SHA512"``, ``"ED448"``..., or None if unknown."""
    found = _connection(connection)
    if found is None:
        return None
    lib, pointer = found
    kind, digest = ctypes.c_int(0), ctypes.c_int(0)
    if lib.peer_sig_type(pointer, ctypes.byref(kind)) != 1:
        return None
    kind_name = (lib.nid2sn(kind.value) or b"?").decode()
    kind_name = {"id-ecPublicKey": "ECDSA"}.get(kind_name, kind_name)
    digest_pointer = ctypes.cast(ctypes.byref(digest), ctypes.c_void_p)
    if lib.ssl_ctrl(pointer, _GET_PEER_SIGNATURE_NID, 0, digest_pointer) == 1:
        hash_name = (lib.nid2sn(digest.value) or b"").decode().upper()
        if hash_name and hash_name != "UNDEF" and kind_name == "ECDSA":
            return f"{kind_name}+{hash_name}"
    return kind_name.upper()


@dataclass(frozen=True, slots=True)
class RefusedChain:
    """A peer chain OpenSSL refused: the DER certificates as sent (leaf first) and X509_V_ERR code and depth."""

    certificates: tuple[bytes, ...]
    error: int
    depth: int


_refusals: collections.OrderedDict[int, RefusedChain] = collections.OrderedDict()
_refusals_lock = threading.Lock()


def _record_refusal(lib: _Lib, store: int) -> None:
    ssl_pointer = lib.store_ex_data(store, lib.ssl_store_idx())
    if not ssl_pointer:
        return
    sent = lib.stack_der(lib.store_untrusted(store))  # what the peer sent, its leaf first
    leaf = lib.der(lib.store_cert(store)) if lib.store_cert(store) else b""
    if leaf and (not sent or sent[0] != leaf):
        sent.insert(0, leaf)
    refusal = RefusedChain(certificates=tuple(sent), error=lib.store_error(store), depth=lib.store_depth(store))
    with _refusals_lock:
        _refusals[ssl_pointer] = refusal
        _refusals.move_to_end(ssl_pointer)
        while len(_refusals) > _KEPT_REFUSALS:
            _refusals.popitem(last=False)


@functools.cache
def _verify_callback() -> Any:
    lib = _lib()

    def on_verify(preverify_ok: int, store: int | None) -> int:
        if not preverify_ok and store:
            with contextlib.suppress(Exception):  # an observer: whatever happens, OpenSSL's verdict stands
                _record_refusal(lib, store)
        return preverify_ok

    return _VERIFY_CALLBACK(on_verify)  # cached: it must live as long as any context using it


def watch_verification(context: ssl.SSLContext) -> None:
    """Keep a copy of any peer chain ``context`` refuses, for :func:`refused_chain`; verdicts are unchanged.

    Call it after ``verify_mode`` is set (Python keeps the callback when the mode changes later).
    """
    lib = _lib()
    pointer = _ctx_pointer(lib, context)
    lib.ctx_set_verify(pointer, lib.get_verify_mode(pointer), ctypes.cast(_verify_callback(), ctypes.c_void_p))


def refused_chain(connection: ssl.SSLObject | ssl.SSLSocket) -> RefusedChain | None:
    """The peer chain ``connection``'s certificate verification refused (collected once), or None."""
    found = _connection(connection)
    if found is None:
        return None
    with _refusals_lock:
        return _refusals.pop(found[1], None)


def verified_chain(connection: ssl.SSLObject | ssl.SSLSocket) -> list[bytes] | None:
    """The peer's chain as OpenSSL verified it, leaf to trust anchor (DER), or None when unknown."""
    found = _connection(connection)
    if found is None:
        return None
    lib, pointer = found
    return lib.stack_der(lib.verified_chain(pointer)) or None
