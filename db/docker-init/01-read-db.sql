-- Run once by the postgres image on an empty volume: the read DB beside the write DB.
CREATE DATABASE cqrs_read OWNER cqrs;
