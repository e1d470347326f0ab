// The plumbing every stage shares lives in LensCore (errors that name the file, counter-based
// randomness, staged writes, the chunked parallel map); a target that imports LensData sees it too.
@_exported import LensCore
