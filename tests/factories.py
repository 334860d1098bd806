"""factory_boy factories shared by the tests."""

from typing import TYPE_CHECKING, Any

import factory
from django.contrib.auth.models import Group

from accounts.crypto import PURPOSE_API_KEY, PURPOSE_SECRET, secret_encrypt
from accounts.models import AccountKind, ApiKeySet, Environment, KeySetGrant, KeySetStatus, User

DEFAULT_PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    if TYPE_CHECKING:  # factory_boy's __new__ is untyped; calling a factory returns the model

        def __new__(cls, *args: Any, **kwargs: Any) -> User: ...  # type: ignore[misc]

    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(DEFAULT_PASSWORD)


class GroupFactory(factory.django.DjangoModelFactory[Group]):
    if TYPE_CHECKING:  # factory_boy's __new__ is untyped; calling a factory returns the model

        def __new__(cls, *args: Any, **kwargs: Any) -> Group: ...  # type: ignore[misc]

    class Meta:
        model = Group
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"group{n}")


class KeySetGrantFactory(factory.django.DjangoModelFactory[KeySetGrant]):
    if TYPE_CHECKING:  # factory_boy's __new__ is untyped; calling a factory returns the model

        def __new__(cls, *args: Any, **kwargs: Any) -> KeySetGrant: ...  # type: ignore[misc]

    class Meta:
        model = KeySetGrant

    can_view = True
    can_request = False
    can_approve = False


# Fake credentials for tests: recognisable so a test can search pages and logs for them.
TEST_API_KEY = "test-api-key-0123456789abcdefWXYZ"
TEST_SECRET = "test-secret-NEVER-SHOWN-9f8e7d6c5b4a3210"


class ApiKeySetFactory(factory.django.DjangoModelFactory[ApiKeySet]):
    """A key set with encrypted credentials. Pass `api_key=` / `secret=` (plaintext) to choose them.

    Active by default (most tests need a usable key set); pass `status=KeySetStatus.PENDING_ACTIVATION`
    for the four-eyes flows. Production key sets are created only through `key_set_create`.
    """

    if TYPE_CHECKING:  # factory_boy's __new__ is untyped; calling a factory returns the model

        def __new__(cls, *args: Any, **kwargs: Any) -> ApiKeySet: ...  # type: ignore[misc]

    class Meta:
        model = ApiKeySet

    label = factory.Sequence(lambda n: f"key set {n}")
    environment = Environment.SANDBOX
    base_url = "http://127.0.0.1:8100"
    account_kind = AccountKind.MAIN
    status = KeySetStatus.ACTIVE
    api_key = TEST_API_KEY
    secret = TEST_SECRET
    api_key_last4 = factory.LazyAttribute(lambda o: o.api_key[-4:])

    @classmethod
    def _create(cls, model_class: type[ApiKeySet], *args: Any, **kwargs: Any) -> ApiKeySet:
        api_key = kwargs.pop("api_key", TEST_API_KEY)
        secret = kwargs.pop("secret", TEST_SECRET)
        obj = model_class(**kwargs)
        obj.api_key_encrypted = secret_encrypt(
            plaintext=api_key, key_set_uuid=obj.uuid, purpose=PURPOSE_API_KEY
        )
        obj.secret_encrypted = secret_encrypt(plaintext=secret, key_set_uuid=obj.uuid, purpose=PURPOSE_SECRET)
        obj.save()
        return obj


__all__ = [
    "DEFAULT_PASSWORD",
    "TEST_API_KEY",
    "TEST_SECRET",
    "ApiKeySet",
    "ApiKeySetFactory",
    "GroupFactory",
    "KeySetGrantFactory",
    "UserFactory",
]
