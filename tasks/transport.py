"""The demo's embedded Celery broker: kombu's filesystem transport, with messages that appear whole.

kombu's filesystem channel creates `<name>.msg` and only then writes the message into it, so a consumer
listing the folder in between can take the empty file, fail to decode it and drop the message. Here a
message is written under a name consumers ignore and renamed onto its final name when complete; a
rename within one folder is atomic, so a consumer sees the whole message or nothing.

Settings select it with `broker_transport` (CELERY_BROKER_TRANSPORT): kombu refuses a class path as a
URL scheme, and takes one only as the `transport` argument, which Celery fills from that setting.
"""

import os
import time
import uuid

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps

TRANSPORT = "tasks.transport:AtomicFilesystemTransport"


def transport_options(folder):
    """Return the broker transport options of an embedded broker kept under *folder*.

    Producers and consumers must agree on these: messages go in and come out of the same folder,
    and the fanout tables (revoke, inspect) live next to it rather than in the working directory.
    """
    messages, control = os.path.join(folder, "messages"), os.path.join(folder, "control")
    os.makedirs(messages, exist_ok=True)
    os.makedirs(control, exist_ok=True)
    return {
        "data_folder_in": messages,
        "data_folder_out": messages,
        "control_folder": control,
        # The default 1 s poll is a second of latency per task; 0.1 s costs little with an idle folder.
        "polling_interval": 0.1,
        # Consumed messages are deleted (after kombu moves them to the temporary directory).
        "store_processed": False,
    }


class AtomicFilesystemChannel(filesystem.Channel):
    """A filesystem channel whose messages are renamed into place once fully written."""

    def _put(self, queue, payload, **kwargs):
        """Store *payload* on *queue*.

        `_put` is the method kombu's virtual transports implement to store one message (the
        documented way to write a virtual transport). The final name keeps kombu's format,
        `<monotonic ms>_<uuid>.<queue>.msg`, which its `_get` sorts and matches; the temporary
        name starts with a dot and ends in `.tmp`, so no queue ever matches it.
        """
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        temporary = os.path.join(self.data_folder_out, f".{name}.tmp")
        try:
            with open(temporary, "wb") as file:
                file.write(dumps(payload).encode())
            os.replace(temporary, final)
        except OSError as exc:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class AtomicFilesystemTransport(filesystem.Transport):
    """kombu's filesystem transport with `AtomicFilesystemChannel`."""

    Channel = AtomicFilesystemChannel
