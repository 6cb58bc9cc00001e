/** Small SQL dumps for tests: what mariadb-dump writes, with the features an import must survive. */

/** Tables, a view, a trigger and a procedure with DELIMITER, and the header lines of a real dump. */
export function shopDump(rows = 3, label = 'v1'): string {
  const values = Array.from({ length: rows }, (_, i) => `(${i + 1},'item-${i + 1}',${(i + 1) * 10})`).join(
    ',',
  );
  return `/*M!999999\\- enable the sandbox mode */
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES utf8mb4 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
DROP TABLE IF EXISTS \`products\`;
CREATE TABLE \`products\` (
  \`id\` int(11) NOT NULL,
  \`name\` varchar(64) NOT NULL,
  \`price\` int(11) NOT NULL,
  PRIMARY KEY (\`id\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO \`products\` VALUES ${values};
CREATE TABLE \`meta\` (\`k\` varchar(16) PRIMARY KEY, \`v\` varchar(64)) ENGINE=InnoDB;
INSERT INTO \`meta\` VALUES ('label','${label}');
CREATE TABLE \`audit\` (\`id\` int AUTO_INCREMENT PRIMARY KEY, \`note\` varchar(64)) ENGINE=InnoDB;
CREATE VIEW \`expensive\` AS SELECT \`name\` FROM \`products\` WHERE \`price\` > 15;
DELIMITER ;;
CREATE TRIGGER \`products_ai\` AFTER INSERT ON \`products\` FOR EACH ROW BEGIN
  INSERT INTO \`audit\` (\`note\`) VALUES (CONCAT('added ', NEW.\`name\`));
END ;;
CREATE PROCEDURE \`count_products\`(OUT n INT)
BEGIN
  SELECT COUNT(*) INTO n FROM \`products\`;
END ;;
DELIMITER ;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
`;
}

/** Valid at first, then an SQL error at line 3. */
export const brokenDump = `CREATE TABLE ok (id INT);
INSERT INTO ok VALUES (1);
INSERT INTO missing_table VALUES (1);
`;

/** How pg_dump's plain format begins (what the engine recognises it by, and its session settings). */
export const PG_DUMP_PREAMBLE = `--
-- PostgreSQL database dump
--
SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET client_min_messages = warning;
`;

/** The shop dump as pg_dump writes it (plain format): tables, a view, a trigger and a function. */
export function shopDumpPostgres(rows = 3, label = 'v1'): string {
  const values = Array.from({ length: rows }, (_, i) => `(${i + 1},'item-${i + 1}',${(i + 1) * 10})`).join(
    ',',
  );
  return `${PG_DUMP_PREAMBLE}
CREATE TABLE public.products (id integer NOT NULL, name character varying(64) NOT NULL, price integer NOT NULL);
ALTER TABLE ONLY public.products ADD CONSTRAINT products_pkey PRIMARY KEY (id);
INSERT INTO public.products VALUES ${values};
CREATE TABLE public.meta (k character varying(16) PRIMARY KEY, v character varying(64));
INSERT INTO public.meta VALUES ('label', '${label}');
CREATE TABLE public.audit (id serial PRIMARY KEY, note character varying(64));
CREATE VIEW public.expensive AS SELECT name FROM public.products WHERE price > 15;
CREATE FUNCTION public.products_ai() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  INSERT INTO public.audit (note) VALUES ('added ' || NEW.name);
  RETURN NEW;
END;
$$;
CREATE TRIGGER products_ai AFTER INSERT ON public.products FOR EACH ROW EXECUTE FUNCTION public.products_ai();
CREATE FUNCTION public.count_products() RETURNS integer
    LANGUAGE sql
    AS $$ SELECT count(*)::integer FROM public.products $$;
--
-- PostgreSQL database dump complete
--
`;
}
