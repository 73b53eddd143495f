# make proto: regenerate protocol/pb/murmur.pb.go from protocol/pb/murmur.proto
# with pinned generators, so the committed code only changes when the schema
# does:
#   protoc        libprotoc 3.21.12, Debian bookworm's protobuf-compiler
#                 3.21.12-3+deb12u1 (apt-get install -y protobuf-compiler)
#   protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12,
#                 installed into bin/tools by this target
PROTOC              ?= protoc
PROTOC_VERSION      := 3.21.12
PROTOC_GEN_GO_VER   := v1.36.12
PROTO_TOOLS         := $(CURDIR)/bin/tools
PROTOC_GEN_GO       := $(PROTO_TOOLS)/protoc-gen-go-$(PROTOC_GEN_GO_VER)

.PHONY: proto
proto: $(PROTOC_GEN_GO)
	@v=$$($(PROTOC) --version 2>/dev/null | awk '{print $$2}'); \
	if [ "$$v" != "$(PROTOC_VERSION)" ]; then \
		echo "proto: need protoc $(PROTOC_VERSION) (apt-get install -y protobuf-compiler on Debian bookworm), found '$$v'"; exit 1; \
	fi
	$(PROTOC) --plugin=protoc-gen-go=$(PROTOC_GEN_GO) \
		--go_out=. --go_opt=paths=source_relative \
		protocol/pb/murmur.proto

$(PROTOC_GEN_GO):
	@mkdir -p $(PROTO_TOOLS)
	GOBIN=$(PROTO_TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VER)
	mv $(PROTO_TOOLS)/protoc-gen-go $@
