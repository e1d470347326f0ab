// zlib, for the deflate members of .npz archives and for gzip-compressed FITS files.
#include <zlib.h>

/// inflateInit2 is a macro (it passes ZLIB_VERSION and sizeof(z_stream) to inflateInit2_), which
/// Swift cannot call. window_bits: -15 for a raw deflate stream (zip members), 31 for gzip.
static inline int czlib_inflate_init2(z_streamp strm, int window_bits) {
    return inflateInit2(strm, window_bits);
}
