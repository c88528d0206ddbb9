# util/: the base layer every other folder may use (errors, hashing, ids, clocks,
# build provenance).  It depends on nothing else in the project.
LIB_SRCS += $(wildcard util/*.c)
$(BUILD)/util/buildinfo.o: $(BUILD)/gen/build_provenance.h
