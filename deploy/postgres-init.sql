-- One database per service: no service reads another's tables.
CREATE DATABASE "order";
CREATE DATABASE payment;
CREATE DATABASE store;
CREATE DATABASE delivery;
CREATE DATABASE notification;
CREATE DATABASE marketing;
