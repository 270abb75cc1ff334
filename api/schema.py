"""OpenAPI description of the header authentication (drf-spectacular extension)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class HeaderCredentialScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.HeaderCredentialAuthentication"
    name = ["XUsername", "XPassword"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "X-USERNAME",
             "description": "API credential username (manage.py createapicredential, or API_USERNAME)."},
            {"type": "apiKey", "in": "header", "name": "X-PASSWORD", "description": "Its secret."},
        ]
