# Builds the libFuzzer harnesses: make -f fuzz/fuzz.mk BUILD=build/fuzz
BUILD  ?= build/fuzz
CC     := clang
# PKG_CFLAGS and PKG_LIBS come from the main Makefile (`make fuzz`).
SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all
CFLAGS := -O1 -g -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -Iinclude -Ilib \
	$(PKG_CFLAGS) -DWARD_FUZZING
LIBS   := $(PKG_LIBS) -lm -pthread

LIB_SRC  := $(sort $(wildcard lib/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZERS  := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/%)

all: $(FUZZERS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS) $(SAN) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(BUILD)/%: fuzz/%.c $(LIB_OBJ)
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	@$(CC) $(CFLAGS) $(SAN) -fsanitize=fuzzer -o $@ $< $(LIB_OBJ) $(LIBS)

-include $(LIB_OBJ:.o=.d)
