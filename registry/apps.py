from django.apps import AppConfig


class RegistryConfig(AppConfig):
    verbose_name = "号码备案"
    default_auto_field = "django.db.models.BigAutoField"
    name = "registry"
