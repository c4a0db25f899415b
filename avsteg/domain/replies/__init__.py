"""Every mail avsteg writes, and its Swedish text: composed here, never sent from here.

* ``sender``    — the answers a sender gets: receipt, error reply, both at once, or help;
* ``reminders`` — the December reminder to whoever owes a Helårsrapport;
* ``digest``    — the weekly digest for the stödfunktion.

Each function returns an :class:`email.message.EmailMessage`; the pipeline and the jobs queue it
in the outbox and the delivery step sends it. Field labels and rejection messages come from
``config/schema.toml``; the words for codes from :mod:`avsteg.domain.vocabulary`.
"""
