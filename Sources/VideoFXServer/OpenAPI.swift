import Foundation
import MediaIO
import Recipe

/// The OpenAPI document in Cog's form, built from ``InputSchema`` so it cannot drift from validation.
enum OpenAPIDocument {
    /// One step of `effects`: one branch per catalogue entry, each with its parameters' types, bounds and defaults.
    static func stepSchema() -> JSONValue {
        .object(["title": "Step", "oneOf": .array(EffectCatalogue.all.map { d in
            var params: [String: JSONValue] = [:]
            for p in d.parameters {
                var schema: [String: JSONValue] = ["description": .string(p.summary)]
                switch p.type {
                case .integer(let r): schema["type"] = "integer"; schema["minimum"] = .int(r.lowerBound); schema["maximum"] = .int(r.upperBound)
                case .number(let r): schema["type"] = "number"; schema["minimum"] = .double(r.lowerBound); schema["maximum"] = .double(r.upperBound)
                case .choice(let v): schema["type"] = "string"; schema["enum"] = .array(v.map { .string($0) })
                case .aspect:
                    // A ratio between 0.01 and 100: the range is beyond a pattern, so it has a format of its own.
                    schema["type"] = "string"; schema["format"] = "vfx-aspect"; schema["pattern"] = "^[0-9]+(\\.[0-9]+)?(:[0-9]+(\\.[0-9]+)?)?$"
                case .url: schema["type"] = "string"; schema["format"] = "uri"; schema["pattern"] = "^([Hh][Tt][Tt][Pp][Ss]?://[^/?#@]+|[Dd][Aa][Tt][Aa]:)"
                }
                if let v = p.defaultValue { schema["default"] = JSONValue(v) }
                if let unit = p.unit { schema["x-unit"] = .string(unit) }
                params[p.name] = .object(schema)
            }
            var paramsSchema: [String: JSONValue] = ["type": "object", "additionalProperties": false, "properties": .object(params)]
            let required = d.parameters.filter(\.required).map { JSONValue.string($0.name) }
            if !required.isEmpty { paramsSchema["required"] = .array(required) }
            if !d.rules.isEmpty { paramsSchema["allOf"] = .array(d.rules.map(ruleSchema)) }
            var step: [String: JSONValue] = [
                "title": .string(d.name), "description": .string(d.summary), "x-kind": .string(d.kind.rawValue),
                "type": "object", "additionalProperties": false,
                "properties": .object(["name": .object(["type": "string", "enum": .array([.string(d.name)])]), "params": .object(paramsSchema)]),
            ]
            let needsParams = !required.isEmpty || d.rules.contains { if case .anyOf = $0 { return true } else { return false } }
            step["required"] = needsParams ? ["name", "params"] : ["name"]
            return .object(step)
        })])
    }

    /// A catalogue rule in JSON Schema (OpenAPI 3.0: `anyOf`, `not` and `required`, no `if`).
    static func ruleSchema(_ rule: ParameterRule) -> JSONValue {
        func given(_ names: [String]) -> [JSONValue] { names.map { .object(["required": .array([.string($0)])]) } }
        switch rule {
        case .anyOf(let names):
            return .object(["anyOf": .array(given(names))])
        case let .excludes(parameter, others):
            return .object(["not": .object(["required": .array([.string(parameter)]), "anyOf": .array(given(others))])])
        case let .whenEquals(parameter, value, required):
            return .object(["anyOf": .array([
                .object(["not": .object(["required": .array([.string(parameter)])])]),
                .object(["properties": .object([parameter: .object(["not": .object(["enum": .array([.string(value)])])])])]),
                .object(["required": .array(required.map { .string($0) })]),
            ])])
        }
    }

    static func make(configuration: ServerConfiguration = ServerConfiguration()) -> JSONValue {
        var schemas = inputSchemas(configuration)
        schemas.merge(predictionSchemas()) { a, _ in a }
        schemas.merge(errorSchemas()) { a, _ in a }
        return .object(["openapi": "3.0.2", "info": .object(["title": "Cog", "version": "0.1.0"]),
                        "paths": .object(paths(configuration)), "components": .object(["schemas": .object(schemas)])])
    }

    /// `Input` (every field, from ``InputSchema``), its enumerations and `Step`.
    static func inputSchemas(_ configuration: ServerConfiguration) -> [String: JSONValue] {
        var properties: [String: JSONValue] = [:]
        var schemas: [String: JSONValue] = [:]
        for (order, field) in InputSchema.fields.enumerated() {
            var p: [String: JSONValue] = ["title": .string(field.title), "description": .string(field.description), "x-order": .int(order)]
            switch field.kind {
            case .uri: p["type"] = .string("string"); p["format"] = .string("uri"); p["pattern"] = .string("^([Hh][Tt][Tt][Pp][Ss]?://[^/?#@]+|[Dd][Aa][Tt][Aa]:)")
            case .string: p["type"] = .string("string")
            case .boolean: p["type"] = "boolean"
            case .uriList:
                p["type"] = "array"; p["minItems"] = 1; p["maxItems"] = .int(configuration.maxBatchItems)
                p["items"] = .object(["type": "string", "format": "uri", "pattern": "^([Hh][Tt][Tt][Pp][Ss]?://[^/?#@]+|[Dd][Aa][Tt][Aa]:)"])
            case .steps:
                p["anyOf"] = .array([.object(["type": "string", "format": "vfx-chain",
                                              "description": "The chain grammar: name:key=value,... | name ... (steps, parameters and rules as in Step)"]),
                                     .object(["type": "array", "maxItems": .int(Chain.maxSteps),
                                              "items": .object(["$ref": "#/components/schemas/Step"])])])
                p["nullable"] = true
                schemas["Step"] = stepSchema()
            case .integer(let r): p["type"] = .string("integer"); p["minimum"] = .int(r.lowerBound); p["maximum"] = .int(r.upperBound)
            case .number(let r): p["type"] = .string("number"); p["minimum"] = .double(r.lowerBound); p["maximum"] = .double(r.upperBound)
            case .choice(let choices):
                schemas[field.name] = .object(["title": .string(field.name), "description": .string("An enumeration."),
                                               "type": .string("string"), "enum": .array(choices.map { .string($0) })])
                p["allOf"] = .array([.object(["$ref": .string("#/components/schemas/\(field.name)")])])
            }
            // A field with a default takes null for it.
            if let d = field.defaultValue { p["default"] = d; p["nullable"] = true }
            properties[field.name] = .object(p)
        }
        // video or videos: one of the two is required.
        let required = InputSchema.fields.filter { field in
            switch field.kind {
            case .steps, .uriList: return false
            default: return field.defaultValue == nil && field.name != "video"
            }
        }.map { JSONValue.string($0.name) }
        // crf's range depends on the codec (0-51 for H.264/HEVC, 0-63 for AV1/VP9): one branch per range,
        // the default codec's branch also covering an absent output_codec.
        let ranges = Dictionary(grouping: OutputCatalogue.encoders, by: \.quality.range.upperBound).sorted { $0.key < $1.key }
        let defaultRange = OutputCatalogue.encoder(named: OutputCatalogue.defaultCodec)?.quality.range.upperBound
        let branches: [JSONValue] = ranges.map { maxQuality, entries in
            var codec: [String: JSONValue] = ["type": "string", "enum": .array(entries.map { .string($0.name) })]
            var branch: [String: JSONValue] = [:]
            if maxQuality == defaultRange { codec["nullable"] = true } else { branch["required"] = ["output_codec"] }
            branch["properties"] = .object(["output_codec": .object(codec),
                                            "crf": .object(["type": "integer", "maximum": .int(maxQuality), "nullable": true])])
            return .object(branch)
        }
        var inputSchema: [String: JSONValue] = ["title": "Input", "type": "object", "properties": .object(properties),
                                                "allOf": .array([.object(["anyOf": .array(branches)]),
                                                                 .object(["oneOf": .array([.object(["required": ["video"]]), .object(["required": ["videos"]])])])])]
        if !required.isEmpty { inputSchema["required"] = .array(required) }
        schemas["Input"] = .object(inputSchema)
        return schemas
    }

    /// The prediction's request and response, its output, status and webhook events.
    static func predictionSchemas() -> [String: JSONValue] {
        var schemas: [String: JSONValue] = [:]
        schemas["Output"] = .object(["title": "Output", "nullable": true,
                                     "description": "A data: URL, or the uploaded file's URL; with videos, a list of them in input order (null for an item that failed with continue_on_error); null until the prediction succeeds.",
                                     "anyOf": .array([.object(["type": "string", "format": "uri"]),
                                                      .object(["type": "array", "items": .object(["type": "string", "format": "uri", "nullable": true])])])])
        schemas["Status"] = .object(["title": "Status", "description": "An enumeration.", "type": "string",
                                     "enum": .array(["starting", "processing", "succeeded", "canceled", "failed"].map { .string($0) })])
        schemas["WebhookEvent"] = .object(["title": "WebhookEvent", "description": "An enumeration.", "type": "string",
                                           "enum": .array(WebhookEvent.allCases.map { .string($0.rawValue) })])
        var requestProperties: [String: JSONValue] = [
            "id": .object(["title": "Id", "type": "string", "pattern": .string(PredictionID.pattern)]),
            "created_at": .object(["title": "Created At", "type": "string", "format": "date-time"]),
            "input": .object(["$ref": "#/components/schemas/Input"]),
            "webhook": .object(["title": "Webhook", "type": "string", "format": "uri", "maxLength": 65536, "minLength": 1,
                                "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@]+",
                                "description": "An http(s) URL on a public address (private ones only with --allow-private-urls)."]),
            "webhook_events_filter": .object(["type": "array", "items": .object(["$ref": "#/components/schemas/WebhookEvent"]),
                                              "default": .array(WebhookEvent.allCases.map { .string($0.rawValue) })]),
            "output_file_prefix": .object(["title": "Output File Prefix", "type": "string", "format": "uri",
                                           "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@]+",
                                           "description": "An http(s) URL the output is PUT under; no '..' segments."]),
        ]
        // null counts as absent for every field but input.
        for key in ["id", "created_at", "webhook", "webhook_events_filter", "output_file_prefix"] {
            if case .object(var o)? = requestProperties[key] { o["nullable"] = true; requestProperties[key] = .object(o) }
        }
        schemas["PredictionRequest"] = .object(["title": "PredictionRequest", "type": "object", "required": ["input"],
                                                "properties": .object(requestProperties)])
        // PUT takes its id from the path (a different id in the body is a 422).
        requestProperties["id"] = nil
        schemas["IdempotentPredictionRequest"] = .object(["title": "IdempotentPredictionRequest", "type": "object", "required": ["input"],
                                                          "properties": .object(requestProperties)])
        schemas["PredictionResponse"] = .object(["title": "PredictionResponse", "type": "object", "properties": .object([
            "id": .object(["title": "Id", "type": "string"]),
            "input": .object(["$ref": "#/components/schemas/Input"]),
            "output": .object(["$ref": "#/components/schemas/Output"]),
            "logs": .object(["title": "Logs", "type": "string", "default": ""]),
            "error": .object(["title": "Error", "type": "string", "nullable": true]),
            "status": .object(["$ref": "#/components/schemas/Status"]),
            "created_at": .object(["title": "Created At", "type": "string", "format": "date-time", "nullable": true]),
            "started_at": .object(["title": "Started At", "type": "string", "format": "date-time", "nullable": true]),
            "completed_at": .object(["title": "Completed At", "type": "string", "format": "date-time", "nullable": true]),
            "metrics": .object(["title": "Metrics", "type": "object", "nullable": true]),
            "webhook": .object(["title": "Webhook", "type": "string"]),
            "webhook_events_filter": .object(["type": "array", "items": .object(["$ref": "#/components/schemas/WebhookEvent"])]),
            "output_file_prefix": .object(["title": "Output File Prefix", "type": "string"]),
        ]), "required": ["id", "input", "output", "logs", "error", "status", "created_at", "started_at", "completed_at", "metrics"]])
        return schemas
    }

    /// What refusals carry.
    static func errorSchemas() -> [String: JSONValue] {
        var schemas: [String: JSONValue] = [:]
        schemas["Detail"] = .object(["title": "Detail", "type": "object", "required": ["detail"],
                                     "properties": .object(["detail": .object(["title": "Detail", "type": "string"])])])
        schemas["AtCapacity"] = .object(["title": "AtCapacity", "type": "object", "required": ["error", "status"], "properties": .object([
            "error": .object(["type": "string"]), "status": .object(["type": "string", "enum": ["failed"]]),
        ])])
        schemas["ValidationError"] = .object(["title": "ValidationError", "type": "object", "required": ["loc", "msg", "type"],
            "properties": .object([
                "loc": .object(["title": "Location", "type": "array", "items": .object(["anyOf": [.object(["type": "string"]), .object(["type": "integer"])]])]),
                "msg": .object(["title": "Message", "type": "string"]),
                "type": .object(["title": "Error Type", "type": "string"]),
            ])])
        schemas["HTTPValidationError"] = .object(["title": "HTTPValidationError", "type": "object", "properties": .object([
            "detail": .object(["title": "Detail", "type": "array", "items": .object(["$ref": "#/components/schemas/ValidationError"])]),
        ])])

        schemas["File"] = .object(["title": "File", "type": "object",
            "required": ["id", "name", "content_type", "size", "created_at", "expires_at", "urls"],
            "properties": .object([
                "id": .object(["type": "string"]), "name": .object(["type": "string"]), "content_type": .object(["type": "string"]),
                "size": .object(["type": "integer", "minimum": 0]),
                "created_at": .object(["type": "string", "format": "date-time"]), "expires_at": .object(["type": "string", "format": "date-time"]),
                "urls": .object(["type": "object", "required": ["get"], "properties": .object(["get": .object(["type": "string", "format": "uri"])])]),
            ])])
        return schemas
    }

    /// The files API's operations.
    static func filePaths(op: (String, String, [String: JSONValue], [String]) -> JSONValue, reply: (String, String?) -> JSONValue) -> [String: JSONValue] {
        var upload = op("Upload File", "upload_file_files_post", [
            "201": reply("Stored", "File"),
            "400": reply("A multipart body that cannot be read", "Detail"),
            "413": reply("Over the limit on one file (--max-input-mib; in a cluster also --max-stored-output-mib) or --max-files-mib for all", "Detail"),
            "415": reply("Not multipart/form-data with a boundary", "Detail"),
            "422": reply("No field 'content'", "Detail"),
        ], [])
        if case .object(var o) = upload {
            o["requestBody"] = .object(["required": true, "content": .object(["multipart/form-data": .object(["schema": .object([
                "type": "object", "required": ["content"],
                "properties": .object(["content": .object(["type": "string", "format": "binary"])]),
            ])])])])
            upload = .object(o)
        }
        var download = op("Download File", "download_file_files__file_id__download_get",
                          ["200": reply("The file's bytes", nil), "404": reply("No such file (or it expired)", "Detail")], ["file_id"])
        if case .object(var o) = download, case .object(var r) = o["responses"] {
            r["200"] = .object(["description": "The file's bytes", "content": .object(["application/octet-stream": .object(["schema": .object(["type": "string", "format": "binary"])])])])
            o["responses"] = .object(r)
            download = .object(o)
        }
        var preview = op("Preview", "preview_previews_post", [
            "200": .object(["description": "One frame as a PNG (the original on the left with compare)",
                            "content": .object(["image/png": .object(["schema": .object(["type": "string", "format": "binary"])])])]),
            "403": reply("The video's address is refused by policy", "Detail"),
            "413": reply("Body over max_body_bytes or max_json_elements", "Detail"),
            "422": .object(["description": "Validation Error (a list), or a video that cannot be previewed (the reason as text)",
                            "content": .object(["application/json": .object(["schema": .object(["anyOf": [
                                .object(["$ref": "#/components/schemas/HTTPValidationError"]), .object(["$ref": "#/components/schemas/Detail"]),
                            ]])])])]),
        ], [])
        if case .object(var o) = preview {
            o["requestBody"] = .object(["required": true, "content": .object(["application/json": .object(["schema": .object([
                "type": "object", "required": ["video"], "additionalProperties": false,
                "properties": .object([
                    "video": .object(["$ref": "#/components/schemas/Input/properties/video"]),
                    "effects": .object(["$ref": "#/components/schemas/Input/properties/effects"]),
                    "at": .object(["type": "number", "minimum": 0, "maximum": 86400, "description": "Seconds into the output's timeline."]),
                    "compare": .object(["type": "boolean", "description": "The original beside the result."]),
                ]),
            ])])])])
            preview = .object(o)
        }
        let queue = op("Queue", "queue_queue_get", [
            "200": reply("A cluster's tasks by state, the oldest queued task's wait, webhooks waiting, and each worker", nil),
            "404": reply("Not a cluster node (no --database)", "Detail"),
            "503": reply("The database cannot be read now", "Detail"),
        ], [])
        return [
            "/queue": .object(["get": queue]),
            "/previews": .object(["post": preview]),
            "/files": .object(["post": upload]),
            "/files/{file_id}": .object([
                "get": op("Get File", "get_file_files__file_id__get", ["200": reply("The file's record", "File"), "404": reply("No such file (or it expired)", "Detail")], ["file_id"]),
                "delete": op("Delete File", "delete_file_files__file_id__delete",
                             ["204": .object(["description": "Deleted"]), "404": reply("No such file (or it expired)", "Detail")], ["file_id"]),
            ]),
            "/files/{file_id}/download": .object(["get": download]),
        ]
    }

    /// Every operation with every answer it can give.
    static func paths(_ configuration: ServerConfiguration) -> [String: JSONValue] {
        func content(_ schema: String?) -> JSONValue {
            .object(["application/json": .object(["schema": schema.map { .object(["$ref": .string("#/components/schemas/\($0)")]) } ?? .object(["type": "object"])])])
        }
        func reply(_ description: String, _ schema: String?) -> JSONValue {
            .object(["description": .string(description), "content": content(schema)])
        }
        // Every answer an operation can give, so clients (and schemathesis) can rely on the document.
        let auth = configuration.authToken.map { !$0.isEmpty } ?? false
        func op(_ summary: String, _ id: String, body: String? = nil, responses: [String: JSONValue], params: [String] = []) -> JSONValue {
            var o: [String: JSONValue] = ["summary": .string(summary), "operationId": .string(id)]
            var all = responses
            all["405"] = reply("Method Not Allowed", "Detail")
            if auth && id != "healthcheck_health_check_get" { all["401"] = reply("Missing or wrong bearer token", "Detail") }
            o["responses"] = .object(all)
            if let body {
                o["requestBody"] = .object(["required": true, "content": content(body)])
            }
            if !params.isEmpty {
                o["parameters"] = .array(params.map { .object(["name": .string($0), "in": "path", "required": true,
                                                               "schema": .object(["title": .string($0), "type": "string",
                                                                                  "pattern": .string(PredictionID.pattern)])]) })
            }
            return .object(o)
        }
        let predictionReplies: [String: JSONValue] = [
            "200": reply("The finished prediction (synchronous, or an id that already finished), or an event stream with Accept: text/event-stream", "PredictionResponse"),
            "202": reply("Started (Prefer: respond-async), or already running with this id", "PredictionResponse"),
            "403": reply("Refused by policy: a webhook or output_file_prefix on a refused address or with '..' segments, or a request sent by a vfx webhook (loops)", "Detail"),
            "409": reply("Every prediction slot is busy", "AtCapacity"),
            "413": reply("Body over max_body_bytes or max_json_elements", "Detail"),
            "422": reply("Validation Error", "HTTPValidationError"),
            "503": reply("The server is shutting down", "Detail"),
        ]
        let paths: [String: JSONValue] = [
            "/": .object(["get": op("Root", "root__get", responses: ["200": reply("Links to the endpoints", nil)])]),
            "/health-check": .object(["get": op("Healthcheck", "healthcheck_health_check_get", responses: ["200": reply("Status and setup", nil)])]),
            "/openapi.json": .object(["get": op("OpenAPI", "openapi_openapi_json_get", responses: ["200": reply("This document", nil)])]),
            "/predictions": .object(["post": op("Predict", "predict_predictions_post", body: "PredictionRequest", responses: predictionReplies)]),
            "/predictions/{prediction_id}": .object([
                "put": op("Predict Idempotent", "predict_idempotent_predictions__prediction_id__put",
                          body: "IdempotentPredictionRequest", responses: predictionReplies, params: ["prediction_id"]),
                "get": op("Get Prediction", "get_prediction_predictions__prediction_id__get",
                          responses: ["200": reply("The prediction as it stands: running, or finished (kept for a while)", "PredictionResponse"),
                                      "404": reply("No prediction with this id", "Detail")],
                          params: ["prediction_id"]),
            ]),
            "/predictions/{prediction_id}/cancel": .object(["post": op("Cancel", "cancel_predictions__prediction_id__cancel_post",
                                                                       responses: ["200": reply("Cancelling", nil),
                                                                                   "404": reply("No running prediction with this id", "Detail")],
                                                                       params: ["prediction_id"])]),
            "/shutdown": .object(["post": op("Start Shutdown", "start_shutdown_shutdown_post",
                                             responses: ["200": reply("Shutting down", nil),
                                                         "403": reply("Shutdown over HTTP is disabled (--enable-shutdown)", "Detail")])]),
        ]
        return paths.merging(filePaths(op: { op($0, $1, responses: $2, params: $3) }, reply: reply)) { a, _ in a }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
