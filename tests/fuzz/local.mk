# libFuzzer harnesses (configure --enable-fuzzing, CC=clang).
if ENABLE_FUZZING
endif
