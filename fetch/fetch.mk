# fetch/: getting files onto this machine safely: downloads (libcurl), the model
# manifest and its lock file, and unpacking archives (libarchive) under safety rules.
# Every fetch/*.c is part of the library.
LIB_SRCS += $(wildcard fetch/*.c)
