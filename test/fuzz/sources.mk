# test/fuzz/sources.mk
#	The files of src/ that each piece a libFuzzer harness runs is built
#	from, outside the server (test/fuzz/Makefile): when a source file is
#	split or moved, change its line here.
#	Paths are relative to src/; .cpp files are C++17.

JSON_READER_SRCS  := decode/json_reader.cpp decode/json_scan.cpp decode/json_trie.cpp \
                     decode/json_walk.cpp decode/json_string.cpp decode/json_number.cpp
CSV_READER_SRCS   := decode/csv_reader.c
LINE_RECORDS_SRCS := decode/line_records.c
INFLATE_SRCS      := decode/inflate.c
ISO8601_SRCS      := decode/iso8601.c
URL_SRCS          := s3/url.c
HTTP_HEADER_SRCS  := s3/http_header.c
S3_XML_SRCS       := s3/s3_xml.c
SIGV4_SRCS        := s3/sigv4.c
# backend code, built with test/fuzz/backend_shim.c (aws_text.c: times and
# ETags; url.c: percent-decoding)
EVENT_SRCS        := s3/event.c s3/aws_text.c

# headers any of them may include
PURE_HDRS := $(wildcard $(SRC)/decode/*.h $(SRC)/decode/*.hpp $(SRC)/decode/*.inc $(SRC)/s3/*.h)
