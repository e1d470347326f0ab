// cfitsio, the FITS library from NASA's HEASARC. Swift sees the short function names (ffomem,
// ffgpxvll, ...); the long names (fits_open_memfile, fits_read_pixll, ...) are macros in longnam.h,
// which Swift does not import. lenspipe's calls name both in their comments.
#include <fitsio.h>
