# Makefile for the pipeline extension (PGXS)
#
#   make && make install        build and install into the PostgreSQL that pg_config names
#   make installcheck           pg_regress tests (sql/, expected/) against a running server
#   bash test/run               every test layer on a throw-away cluster + S3/SQS emulator

EXTENSION = pipeline
MODULE_big = pipeline
# (found in the source directory, also when building elsewhere: pg_buildext
# builds in build-15/ with VPATH pointing at the source)
DATA = $(patsubst $(or $(VPATH),.)/%,%,$(wildcard $(or $(VPATH),.)/src/sql/pipeline--*.sql))
PGFILEDESC = "pipeline - S3 event pipelines inside PostgreSQL"

OBJS = \
	src/pipeline.o \
	src/util/privilege.o \
	src/util/progress.o \
	src/util/cron.o \
	src/util/backoff.o \
	src/util/settings.o \
	src/util/shared.o \
	src/util/own_xact.o \
	src/s3/sigv4.o \
	src/s3/http.o \
	src/s3/http_header.o \
	src/s3/aws.o \
	src/s3/aws_text.o \
	src/s3/s3.o \
	src/s3/s3_xml.o \
	src/s3/s3_list.o \
	src/s3/s3_get.o \
	src/s3/s3_put.o \
	src/s3/credentials.o \
	src/s3/cred_answer.o \
	src/s3/cred_cache.o \
	src/s3/cred_fetch.o \
	src/s3/cred_profile.o \
	src/s3/sqs.o \
	src/s3/sqs_visibility.o \
	src/s3/s3_cond.o \
	src/s3/url.o \
	src/s3/event.o \
	src/decode/inflate.o \
	src/decode/gzindex.o \
	src/decode/json_scan.o \
	src/decode/json_trie.o \
	src/decode/json_number.o \
	src/decode/json_string.o \
	src/decode/json_walk.o \
	src/decode/json_reader.o \
	src/decode/csv_reader.o \
	src/decode/iso8601.o \
	src/decode/line_records.o \
	src/decode/key_template.o \
	src/fdw/option.o \
	src/fdw/shard.o \
	src/fdw/fdw.o \
	src/fdw/estimate.o \
	src/fdw/scan.o \
	src/fdw/objects.o \
	src/fdw/listing.o \
	src/fdw/parallel.o \
	src/fdw/parallel_parts.o \
	src/fdw/gzsplit.o \
	src/fdw/stream.o \
	src/fdw/rows.o \
	src/fdw/analyze.o \
	src/fdw/rejects.o \
	src/fdw/convert.o \
	src/fdw/budget.o \
	src/fdw/template.o \
	src/fdw/import.o \
	src/fdw/import_csv.o \
	src/decode/infer.o \
	src/decode/infer_json.o \
	src/decode/infer_result.o \
	src/decode/epoch.o \
	src/fdw/jsonb_build.o \
	src/worker/launcher.o \
	src/worker/worker.o \
	src/worker/queues.o \
	src/worker/fleet_queue.o \
	src/report/registry.o \
	src/report/invoke.o \
	src/report/roles.o \
	src/report/tasks.o \
	src/report/outbox.o \
	src/report/target.o \
	src/report/load.o \
	src/report/dispatch.o \
	src/report/run.o \
	src/report/run_processed.o \
	src/report/run_record.o \
	src/report/chart.o \
	src/report/chart_axis.o \
	src/report/chart_draw.o \
	src/report/export.o \
	src/report/export_template.o \
	src/report/webhook.o \
	src/report/webhook_sign.o \
	src/report/fleet.o \
	src/report/fleet_claim.o \
	src/report/fleet_mark.o \
	src/report/fleet_take.o \
	src/report/fleet_commit.o \
	src/report/fleet_view.o \
	src/report/intake.o \
	src/report/backfill.o \
	src/report/schedule.o \
	src/report/accounting.o

REGRESS = options errors reports urls catalog
REGRESS_OPTS = --load-extension=pipeline

PG_CONFIG ?= pg_config

# ISA-L inflates about 3x faster than zlib; used when its headers are installed.
HAVE_ISAL := $(shell test -f /usr/include/isa-l/igzip_lib.h && echo yes)
ifeq ($(HAVE_ISAL),yes)
PG_CPPFLAGS += -DHAVE_ISAL
ISAL_LIBS = -lisal
else
$(warning ISA-L headers not found (libisal-dev): gzip objects will be inflated with zlib, about 3x slower)
endif

PG_CPPFLAGS += -I$(srcdir)/src
# The schema version this library works with is the control file's
# default_version: one place to change it.
PIPELINE_VERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(or $(VPATH),.)/pipeline.control)
PG_CPPFLAGS += -DPIPELINE_VERSION='"$(PIPELINE_VERSION)"'
# Header dependencies (PGXS tracks them only in a server built with
# --enable-depend): a changed header rebuilds the files that include it.
PG_CPPFLAGS += -MMD -MP
EXTRA_CLEAN += $(OBJS:.o=.d)
PG_CXXFLAGS += -std=c++17 -fno-exceptions -fno-rtti
SHLIB_LINK += -lcurl -lz $(ISAL_LIBS) -ljansson -lxml2 -lsimdjson -lstdc++

# No LLVM bitcode for any of the extension's files (all of them, not only
# the C++ JSON reader), and so no clang needed to build: JIT still compiles
# queries, it only cannot inline the extension's functions into them.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

override CXXFLAGS += $(PG_CXXFLAGS)

-include $(OBJS:.o=.d)

src/worker/worker.o src/report/webhook.o src/s3/http.o: pipeline.control

# A build outside the source tree (VPATH, as the Debian package's) makes the
# object files' directories first.
# (Not as a rule's prerequisites: VPATH would find them in the source tree.)
ifdef VPATH
$(shell mkdir -p $(sort $(dir $(OBJS))))
endif

unit:
	$(MAKE) -C test/unit check PG_CONFIG=$(PG_CONFIG)

.PHONY: unit
