# Ward: one hand-written Makefile, no configure step.
#
#   make            build build/bin/ward (+ crypt4gh, crypt4gh-keygen links), libward, plugins
#   make demo       install missing Debian packages (as root), build, run the end-to-end demo
#   make check      the above, then every test: normal build, ASan+UBSan build (clang), fuzz smoke
#   make install PREFIX=/usr/local
#
# BUILD selects the output directory, so sanitizer builds live beside the normal one.

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
CFLAGS   ?= -O2 -g
LDFLAGS  ?=
V        ?= 0

VERSION  := 0.1.0
SOMAJOR  := 0

# Every library libward uses, through pkg-config.
PKGS := libsodium libcrypto libssl htslib libdeflate zlib libcurl sqlite3 yaml-0.1 json-c \
	libmicrohttpd gnutls libavformat libavcodec libavutil libswscale libpng hdf5 openblas

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

override CFLAGS += -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -fPIC -pthread \
	-fvisibility=hidden -I. -Iinclude -Ilib -MMD -MP $(PKG_CFLAGS)
LIBS := $(PKG_LIBS) -lm -pthread

ifeq ($(V),0)
Q  := @
QCC = @echo "  CC      $@";
QLD = @echo "  LD      $@";
endif

LIB_SRC  := $(sort $(wildcard lib/*/*.c))
CMD_ALL  := $(sort $(wildcard cmd/*.c) $(wildcard services/*/*.c))
# Commands with heavy dependencies are modules (see cmd/ward.c), so that the
# ward binary, and crypt4gh with it, starts small.
MOD_echo := $(filter cmd/echo%,$(CMD_ALL))
MOD_cas  := $(filter cmd/cas% cmd/session% cmd/run% cmd/las% cmd/measure% services/%,$(CMD_ALL))
MODULES  := echo cas
CMD_SRC  := $(filter-out $(MOD_echo) $(MOD_cas),$(CMD_ALL))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
PLUG_SRC := $(sort $(wildcard plugins/htslib/*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CMD_OBJ  := $(CMD_SRC:%.c=$(BUILD)/obj/%.o)
TLIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,tests/testlib.c $(wildcard tests/*_testutil.c))
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o) $(TLIB_OBJ)
PLUG_OBJ := $(PLUG_SRC:%.c=$(BUILD)/obj/%.o)
MOD_OBJ  := $(CMD_ALL:%.c=$(BUILD)/obj/%.o)

STATIC   := $(BUILD)/lib/libward.a
SHARED   := $(BUILD)/lib/libward.so.$(VERSION)
WARD     := $(BUILD)/bin/ward
LINKS    := $(BUILD)/bin/crypt4gh $(BUILD)/bin/crypt4gh-keygen
TESTS    := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
PLUGIN   := $(if $(PLUG_SRC),$(BUILD)/plugins/hfile_crypt4gh.so)
MODS     := $(foreach m,$(MODULES),$(if $(MOD_$(m)),$(BUILD)/lib/ward/$(m).so))

.SECONDARY:
.PHONY: all deps demo check test test-asan fuzz fuzz-smoke install clean format bench
all: $(WARD) $(LINKS) $(STATIC) $(SHARED) $(TESTS) $(PLUGIN) $(MODS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(QCC)$(CC) $(CFLAGS) -c -o $@ $<

$(STATIC): $(LIB_OBJ)
	@mkdir -p $(@D)
	$(Q)rm -f $@
	$(QLD)$(AR) rcs $@ $^

$(SHARED): $(LIB_OBJ)
	@mkdir -p $(@D)
	$(QLD)$(CC) $(CFLAGS) -shared -Wl,-soname,libward.so.$(SOMAJOR) -o $@ $^ $(LDFLAGS) $(LIBS)
	$(Q)ln -sf libward.so.$(VERSION) $(BUILD)/lib/libward.so.$(SOMAJOR)
	$(Q)ln -sf libward.so.$(VERSION) $(BUILD)/lib/libward.so

$(WARD): $(CMD_OBJ) $(STATIC)
	@mkdir -p $(@D)
	$(QLD)$(CC) $(CFLAGS) -o $@ $(CMD_OBJ) $(STATIC) $(LDFLAGS) -Wl,--as-needed $(LIBS)

# A module must export its cmd_*_main entry points (dlsym) and carry its own copy of the
# CLI helpers in cmd/util.c, which the ward binary does not export.
MOD_ONLY_OBJ := $(foreach m,$(MODULES),$(patsubst %.c,$(BUILD)/obj/%.o,$(MOD_$(m))))
$(MOD_ONLY_OBJ): override CFLAGS += -fvisibility=default
define module_rule
$(BUILD)/lib/ward/$(1).so: $(patsubst %.c,$(BUILD)/obj/%.o,$(MOD_$(1))) $(BUILD)/obj/cmd/util.o $(STATIC)
	@mkdir -p $$(@D)
	$$(QLD)$$(CC) $$(CFLAGS) -shared -o $$@ $$(filter %.o,$$^) $$(STATIC) $$(LDFLAGS) -Wl,--as-needed $$(LIBS)
endef
$(foreach m,$(MODULES),$(eval $(call module_rule,$(m))))

$(LINKS): $(WARD)
	$(Q)ln -sf ward $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TLIB_OBJ) $(STATIC)
	@mkdir -p $(@D)
	$(QLD)$(CC) $(CFLAGS) -o $@ $< $(TLIB_OBJ) $(STATIC) $(LDFLAGS) $(LIBS)

$(BUILD)/plugins/hfile_crypt4gh.so: $(PLUG_OBJ) $(STATIC)
	@mkdir -p $(@D)
	$(QLD)$(CC) $(CFLAGS) -shared -o $@ $(PLUG_OBJ) $(STATIC) $(LDFLAGS) $(LIBS)

deps:
	$(Q)./scripts/deps.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./scripts/demo.sh $(BUILD)

# The sanitizer build uses clang, so `make check` also proves the code clang-clean.
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

test: all
	$(Q)./tests/run.sh $(BUILD)

test-asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan CC=clang CFLAGS="$(ASAN_FLAGS)" \
		LDFLAGS="-fsanitize=address,undefined" all

fuzz:
	$(Q)$(MAKE) --no-print-directory -f fuzz/fuzz.mk BUILD=build/fuzz \
		PKG_CFLAGS="$(PKG_CFLAGS)" PKG_LIBS="$(PKG_LIBS)"

fuzz-smoke: fuzz
	$(Q)./fuzz/smoke.sh build/fuzz

check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory test-asan
	$(Q)$(MAKE) --no-print-directory fuzz
	$(Q)./tests/run.sh $(BUILD) build/asan build/fuzz

bench: all
	$(Q)for b in bench/*.sh; do $$b $(BUILD) || exit 1; done

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include/ward $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/lib/ward/htslib
	install -m 755 $(WARD) $(DESTDIR)$(PREFIX)/bin/ward
	ln -sf ward $(DESTDIR)$(PREFIX)/bin/crypt4gh
	ln -sf ward $(DESTDIR)$(PREFIX)/bin/crypt4gh-keygen
	install -m 644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/libward.a
	install -m 755 $(SHARED) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libward.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libward.so.$(SOMAJOR)
	ln -sf libward.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libward.so
	install -m 644 include/ward/*.h $(DESTDIR)$(PREFIX)/include/ward/
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	$(if $(PLUGIN),install -m 755 $(PLUGIN) $(DESTDIR)$(PREFIX)/lib/ward/htslib/)
	$(if $(MODS),install -m 755 $(MODS) $(DESTDIR)$(PREFIX)/lib/ward/)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
		-e 's|@REQUIRES@|$(PKGS)|' ward.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/ward.pc

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(MOD_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(PLUG_OBJ:.o=.d)
