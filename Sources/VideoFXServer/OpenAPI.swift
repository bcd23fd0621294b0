import Foundation
import MediaIO

/// The OpenAPI document in Cog's form, built from ``InputSchema`` so it cannot drift from validation.
enum OpenAPIDocument {
    static func make(configuration: ServerConfiguration = ServerConfiguration()) -> JSONValue {
        var properties: [String: JSONValue] = [:]
        var schemas: [String: JSONValue] = [:]
        for (order, field) in InputSchema.fields.enumerated() {
            var p: [String: JSONValue] = ["title": .string(field.title), "description": .string(field.description), "x-order": .int(order)]
            switch field.kind {
            case .uri: p["type"] = .string("string"); p["format"] = .string("uri")
            case .string: p["type"] = .string("string")
            case .integer(let r): p["type"] = .string("integer"); p["minimum"] = .int(r.lowerBound); p["maximum"] = .int(r.upperBound)
            case .number(let r): p["type"] = .string("number"); p["minimum"] = .double(r.lowerBound); p["maximum"] = .double(r.upperBound)
            case .choice(let choices):
                schemas[field.name] = .object(["title": .string(field.name), "description": .string("An enumeration."),
                                               "type": .string("string"), "enum": .array(choices.map { .string($0) })])
                p["allOf"] = .array([.object(["$ref": .string("#/components/schemas/\(field.name)")])])
            }
            if let d = field.defaultValue { p["default"] = d }
            properties[field.name] = .object(p)
        }
        let required = InputSchema.fields.filter { $0.defaultValue == nil }.map { JSONValue.string($0.name) }
        schemas["Input"] = .object(["title": "Input", "type": "object", "properties": .object(properties), "required": .array(required)] as [String: JSONValue])
        schemas["Output"] = .object(["title": "Output", "type": "string", "format": "uri"])
        schemas["Status"] = .object(["title": "Status", "description": "An enumeration.", "type": "string",
                                     "enum": .array(["starting", "processing", "succeeded", "canceled", "failed"].map { .string($0) })])
        schemas["WebhookEvent"] = .object(["title": "WebhookEvent", "description": "An enumeration.", "type": "string",
                                           "enum": .array(["start", "output", "logs", "completed"].map { .string($0) })])
        schemas["PredictionRequest"] = .object(["title": "PredictionRequest", "type": "object", "properties": .object([
            "id": .object(["title": "Id", "type": "string"]),
            "created_at": .object(["title": "Created At", "type": "string", "format": "date-time"]),
            "input": .object(["$ref": "#/components/schemas/Input"]),
            "webhook": .object(["title": "Webhook", "type": "string", "format": "uri", "maxLength": 65536, "minLength": 1]),
            "webhook_events_filter": .object(["type": "array", "items": .object(["$ref": "#/components/schemas/WebhookEvent"]),
                                              "default": .array(["start", "output", "logs", "completed"].map { .string($0) })]),
            "output_file_prefix": .object(["title": "Output File Prefix", "type": "string"]),
            "context": .object(["title": "Context", "type": "object", "additionalProperties": .object(["type": "string"])]),
        ])])
        schemas["PredictionResponse"] = .object(["title": "PredictionResponse", "type": "object", "properties": .object([
            "id": .object(["title": "Id", "type": "string"]),
            "input": .object(["$ref": "#/components/schemas/Input"]),
            "output": .object(["$ref": "#/components/schemas/Output"]),
            "logs": .object(["title": "Logs", "type": "string", "default": ""]),
            "error": .object(["title": "Error", "type": "string"]),
            "status": .object(["$ref": "#/components/schemas/Status"]),
            "created_at": .object(["title": "Created At", "type": "string", "format": "date-time"]),
            "started_at": .object(["title": "Started At", "type": "string", "format": "date-time"]),
            "completed_at": .object(["title": "Completed At", "type": "string", "format": "date-time"]),
            "metrics": .object(["title": "Metrics", "type": "object"]),
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

        func op(_ summary: String, _ id: String, body: String? = nil, response: String? = nil, params: [String] = [],
                errors: Bool = false) -> JSONValue {
            var o: [String: JSONValue] = ["summary": .string(summary), "operationId": .string(id)]
            var ok: [String: JSONValue] = ["description": "Successful Response"]
            ok["content"] = .object(["application/json": .object(["schema": response.map { .object(["$ref": .string("#/components/schemas/\($0)")]) } ?? .object([:])])])
            var responses: [String: JSONValue] = ["200": .object(ok)]
            if errors {
                responses["422"] = .object(["description": "Validation Error", "content": .object(["application/json": .object(["schema": .object(["$ref": "#/components/schemas/HTTPValidationError"])])])])
            }
            o["responses"] = .object(responses)
            if let body {
                o["requestBody"] = .object(["content": .object(["application/json": .object(["schema": .object(["$ref": .string("#/components/schemas/\(body)")])])])])
            }
            if !params.isEmpty {
                o["parameters"] = .array(params.map { .object(["name": .string($0), "in": "path", "required": true,
                                                               "schema": .object(["title": .string($0), "type": "string"])]) })
                }
            return .object(o)
        }
        let paths: [String: JSONValue] = [
            "/": .object(["get": op("Root", "root__get")]),
            "/health-check": .object(["get": op("Healthcheck", "healthcheck_health_check_get")]),
            "/openapi.json": .object(["get": op("OpenAPI", "openapi_openapi_json_get")]),
            "/predictions": .object(["post": op("Predict", "predict_predictions_post", body: "PredictionRequest", response: "PredictionResponse", errors: true)]),
            "/predictions/{prediction_id}": .object(["put": op("Predict Idempotent", "predict_idempotent_predictions__prediction_id__put",
                                                               body: "PredictionRequest", response: "PredictionResponse", params: ["prediction_id"], errors: true)]),
            "/predictions/{prediction_id}/cancel": .object(["post": op("Cancel", "cancel_predictions__prediction_id__cancel_post",
                                                                       params: ["prediction_id"], errors: true)]),
            "/shutdown": .object(["post": op("Start Shutdown", "start_shutdown_shutdown_post")]),
        ]
        return .object(["openapi": "3.0.2", "info": .object(["title": "Cog", "version": "0.1.0"]),
                        "paths": .object(paths), "components": .object(["schemas": .object(schemas)])])
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
